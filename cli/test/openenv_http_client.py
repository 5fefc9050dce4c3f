"""Drives a ToolGym OpenEnv server over HTTP with requests, validating every answer with pydantic
models shaped as meta-pytorch/OpenEnv 685de411e5f77286b0fd94798d42c4467cf8a1bc declares them
(env_server/types.py: ResetResponse, StepResponse, State, HealthResponse, EnvironmentMetadata,
SchemaResponse; extra fields forbidden where OpenEnv forbids them).

Usage: python3 openenv_http_client.py <base-url> <task-id> <tool-name> <arguments-json>
Prints one JSON line: what the step returned.
"""

import json
import sys
from typing import Any, Dict, Optional

import requests
from pydantic import BaseModel, ConfigDict, Field


class ResetResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    observation: Dict[str, Any]
    reward: Optional[float] = None
    done: bool = False


class StepResponse(ResetResponse):
    pass


class State(BaseModel):
    model_config = ConfigDict(extra="allow")
    episode_id: Optional[str] = None
    step_count: int = Field(default=0, ge=0)


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str


class EnvironmentMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    readme_content: Optional[str] = None
    version: Optional[str] = None
    author: Optional[str] = None
    documentation_url: Optional[str] = None


class SchemaResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Dict[str, Any]
    observation: Dict[str, Any]
    state: Dict[str, Any]


def main() -> None:
    base, task_id, tool_name, arguments = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    HealthResponse.model_validate(requests.get(f"{base}/health", timeout=30).json())
    EnvironmentMetadata.model_validate(requests.get(f"{base}/metadata", timeout=30).json())
    SchemaResponse.model_validate(requests.get(f"{base}/schema", timeout=30).json())
    State.model_validate(requests.get(f"{base}/state", timeout=30).json())
    reset = requests.post(f"{base}/reset", json={"seed": 1, "task_id": task_id}, timeout=30)
    reset.raise_for_status()
    ResetResponse.model_validate(reset.json())
    action = {"type": "call_tool", "tool_name": tool_name, "arguments": arguments}
    step = requests.post(f"{base}/step", json={"action": action, "task_id": task_id}, timeout=30)
    step.raise_for_status()
    result = StepResponse.model_validate(step.json())
    bad = requests.post(f"{base}/step", json={"task_id": task_id}, timeout=30)
    print(json.dumps({"done": result.done, "reward": result.reward, "bad_status": bad.status_code}))


if __name__ == "__main__":
    main()
