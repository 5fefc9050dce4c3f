"""Drives a ToolGym OpenEnv server with exactly the messages OpenEnv's own Python clients send
(meta-pytorch/OpenEnv 685de411e5f77286b0fd94798d42c4467cf8a1bc: `env_client.py` EnvClient over
`/ws`, `mcp_client.py` MCPToolClient's step payloads and its production mode over `POST /mcp`).

Standard library only: OpenEnv's client needs `websockets.asyncio` (websockets >= 13) and Debian
ships 10.4, so the WebSocket here is the smallest RFC 6455 client (masked text frames, 7/16/64-bit
lengths, ping answered, close handshake).

Usage: python3 openenv_ws_client.py <base-url> <plan-json>
  plan: {"ws": {"reset": {...}, "calls": [[name, args], ...]}, "mcp": {"calls": [[name, args], ...]}}
Prints one JSON line: what each path saw.
"""

import base64
import json
import os
import socket
import struct
import sys
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional


class WebSocket:
    """RFC 6455 client: one text message per frame out, fragments joined on the way in."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"only ws:// is spoken here, not {parts.scheme}")
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"upgrade refused: {status.decode()}")
        self.closed = False

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("connection closed mid-frame")
            data += chunk
        return data

    def _frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            if opcode == 0x8:
                self.closed = True
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise ConnectionError(f"closed by the server ({code})")
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        if not self.closed:
            self._frame(0x8, struct.pack("!H", 1000))
            try:
                while True:
                    self.recv()
            except ConnectionError:
                pass
        self.sock.close()


class EnvClient:
    """OpenEnv's EnvClient with MCPToolClient's step payloads, over `/ws`."""

    def __init__(self, base_url: str) -> None:
        self.ws = WebSocket(base_url.rstrip("/").replace("http://", "ws://", 1) + "/ws")

    def _send_and_receive(self, message: Dict[str, Any]) -> Dict[str, Any]:
        self.ws.send(json.dumps(message))
        response = json.loads(self.ws.recv())
        if response.get("type") == "error":
            data = response.get("data", {})
            raise RuntimeError(f"Server error: {data.get('message', 'Unknown error')} (code: {data.get('code', 'UNKNOWN')})")
        return response

    def reset(self, **kwargs: Any) -> Dict[str, Any]:
        return self._send_and_receive({"type": "reset", "data": kwargs})["data"]

    def list_tools(self) -> List[Dict[str, Any]]:
        observation = self._send_and_receive({"type": "step", "data": {"type": "list_tools"}})["data"]["observation"]
        return observation["tools"]

    def step_call(self, name: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
        return self._send_and_receive({"type": "step", "data": {"type": "call_tool", "tool_name": name, "arguments": arguments}})["data"]

    def mcp(self, method: str, params: Dict[str, Any], request_id: int) -> Dict[str, Any]:
        return self._send_and_receive({"type": "mcp", "data": {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}})["data"]

    def state(self) -> Dict[str, Any]:
        return self._send_and_receive({"type": "state"})["data"]

    def close(self) -> None:
        self.ws.send(json.dumps({"type": "close"}))
        self.ws.close()


class ProductionMcpClient:
    """MCPToolClient with use_production_mode: JSON-RPC to `POST /mcp` in a persistent session."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/") + "/mcp"
        self.request_id = 0
        self.session_id: Optional[str] = None

    def _request(self, method: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        self.request_id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params or {}, "id": self.request_id}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def _session(self) -> str:
        if self.session_id is None:
            data = self._request("openenv/session/create")
            if "error" in data:
                raise RuntimeError(f"Failed to create MCP session: {data['error'].get('message')}")
            self.session_id = data["result"]["session_id"]
        return self.session_id

    def list_tools(self) -> List[Dict[str, Any]]:
        data = self._request("tools/list", {"session_id": self._session()})
        if "error" in data:
            raise RuntimeError(f"list_tools failed: {data['error'].get('message')}")
        return [{"name": t["name"], "input_schema": t.get("input_schema", t.get("inputSchema", {}))} for t in data["result"]["tools"]]

    def call_tool_raw(self, name: str, **kwargs: Any) -> Dict[str, Any]:
        data = self._request("tools/call", {"name": name, "arguments": kwargs, "session_id": self._session()})
        if "error" in data:
            raise RuntimeError(f"Tool '{name}' failed: {data['error'].get('message')}")
        return data["result"]

    def close(self) -> Dict[str, Any]:
        closed = self._request("openenv/session/close", {"session_id": self.session_id})
        self.session_id = None
        return closed


def main() -> None:
    base, plan = sys.argv[1], json.loads(sys.argv[2])
    out: Dict[str, Any] = {}

    env = EnvClient(base)
    reset = env.reset(**plan["ws"]["reset"])
    tools = env.list_tools()
    last: Dict[str, Any] = {}
    for i, (name, arguments) in enumerate(plan["ws"]["calls"]):
        # Alternate the two ways a /ws session calls a tool: a step, and a JSON-RPC message.
        if i % 2 == 0:
            last = env.step_call(name, arguments)
        else:
            answer = env.mcp("tools/call", {"name": name, "arguments": arguments}, i)
            if "error" in answer:
                raise RuntimeError(f"Tool '{name}' failed: {answer['error']['message']}")
            meta = answer["result"].get("_meta", {})
            last = {"done": meta.get("done", False), "reward": meta.get("reward")}
    try:
        env.step_call(plan["ws"]["calls"][0][0], plan["ws"]["calls"][0][1])
        after_done = "accepted"
    except RuntimeError as error:
        after_done = str(error)
    out["ws"] = {
        "task_id": reset["observation"]["metadata"]["task"]["id"],
        "tools": sorted(t["name"] for t in tools),
        "done": last["done"],
        "reward": last["reward"],
        "state": env.state(),
        "after_done": after_done,
    }
    env.close()

    mcp = ProductionMcpClient(base)
    tools = mcp.list_tools()
    result: Dict[str, Any] = {}
    for name, arguments in plan["mcp"]["calls"]:
        result = mcp.call_tool_raw(name, **arguments)
    out["mcp"] = {"tools": sorted(t["name"] for t in tools), "last": result, "closed": mcp.close()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
