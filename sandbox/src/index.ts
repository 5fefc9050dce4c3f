export { type BubblewrapSandboxOptions, createBubblewrapSandbox } from './bubblewrap.ts';
export { createDockerSandbox, DEFAULT_PYTHON_IMAGE, type DockerSandboxOptions } from './docker.ts';
export { type DockerEngine, ensurePythonImage, startDockerEngine } from './docker-engine.ts';
export { SandboxError } from './errors.ts';
export {
  DEFAULT_LIMITS,
  type PoolState,
  type RunRequest,
  type RunResult,
  type Sandbox,
  type SandboxCapabilities,
  type SandboxLimits,
} from './types.ts';
export { WarmPool } from './warm-pool.ts';
