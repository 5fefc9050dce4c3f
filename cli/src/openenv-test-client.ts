/**
 * A minimal OpenEnv client for the tests, written from meta-pytorch/OpenEnv
 * 685de411e5f77286b0fd94798d42c4467cf8a1bc (`env_client.py`: `/ws` under the base URL, one JSON
 * message per frame, an answer per message, `{"type":"close"}` before disconnecting). It speaks
 * the wire format only; nothing here knows ToolGym.
 */
import WebSocket from 'ws';

export interface WsAnswer {
  type: 'observation' | 'state' | 'error' | 'mcp';
  data: Record<string, unknown>;
}

export class OpenEnvWsClient {
  private readonly pending: Array<(answer: WsAnswer) => void> = [];
  private readonly early: WsAnswer[] = [];
  readonly closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const answer = JSON.parse(String(raw)) as WsAnswer;
      const waiting = this.pending.shift();
      if (waiting) waiting(answer);
      else this.early.push(answer);
    });
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  }

  /** Connects to `/ws`, or to `/mcp` (whose answers are JSON-RPC responses, read with `next`). */
  static async connect(baseUrl: string, token?: string, path: '/ws' | '/mcp' = '/ws'): Promise<OpenEnvWsClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, {
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    // Listening before the socket opens: the server may answer in the same packet as the upgrade.
    const client = new OpenEnvWsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** Sends one frame as is (for malformed messages) and waits for its answer. */
  sendRaw(text: string): Promise<WsAnswer> {
    const answer = this.next();
    this.socket.send(text);
    return answer;
  }

  send(message: unknown): Promise<WsAnswer> {
    return this.sendRaw(JSON.stringify(message));
  }

  reset(data: Record<string, unknown> = {}): Promise<WsAnswer> {
    return this.send({ type: 'reset', data });
  }

  step(action: Record<string, unknown>): Promise<WsAnswer> {
    return this.send({ type: 'step', data: action });
  }

  state(): Promise<WsAnswer> {
    return this.send({ type: 'state' });
  }

  /** A JSON-RPC request in OpenEnv's `{"type": "mcp"}` message. */
  mcp(method: string, params: Record<string, unknown> = {}, id: number | string = 1): Promise<WsAnswer> {
    return this.send({ type: 'mcp', data: { jsonrpc: '2.0', method, params, id } });
  }

  /** The next answer, including one the server sent unasked (capacity, idle). */
  next(): Promise<WsAnswer> {
    const ready = this.early.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.pending.push(resolve));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: 'close' }));
    await this.closed;
  }
}

/** One JSON-RPC request to `POST /mcp`, as OpenEnv's MCP client sends it in production mode. */
export async function mcpHttp(
  baseUrl: string,
  method: string,
  params: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  return httpJson(baseUrl, '/mcp', { jsonrpc: '2.0', method, params, id: 1 }, headers);
}

/** A JSON POST or GET against the server's HTTP endpoints. */
export async function httpJson(
  baseUrl: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
