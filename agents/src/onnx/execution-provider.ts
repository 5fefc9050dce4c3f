/**
 * Chooses onnxruntime's execution provider at run time: CUDA when its provider libraries are installed
 * next to onnxruntime-node's binding (`npm install onnxruntime-node --onnxruntime-node-install=cuda12`
 * on a GPU machine) and a session actually loads with it; otherwise CPU. The choice and the reason
 * are reported, never silent.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ToolGymError } from '@toolgym/protocol';
import * as ort from 'onnxruntime-node';

export type ExecutionProviderPreference = 'auto' | 'cuda' | 'cpu';

export interface ExecutionProviderChoice {
  provider: 'cuda' | 'cpu';
  /** Why this provider, e.g. "CUDA provider library not installed (…)". */
  reason: string;
}

/** `executionProvider: 'cuda'` was asked for and CUDA cannot be used. */
export class ExecutionProviderError extends ToolGymError {
  constructor(message: string) {
    super('cuda_unavailable', message, 'use executionProvider auto or cpu, or install the CUDA provider');
  }
}

/** Directory holding onnxruntime-node's native binding for this platform, if found. */
function ortBinaryDir(): string | undefined {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  const binRoot = path.join(path.dirname(entry), '..', 'bin');
  if (!existsSync(binRoot)) return undefined;
  for (const napi of readdirSync(binRoot)) {
    const dir = path.join(binRoot, napi, process.platform, process.arch);
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

function cudaLibraryPath(): string | undefined {
  const dir = ortBinaryDir();
  const lib =
    dir &&
    path.join(
      dir,
      process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so',
    );
  return lib && existsSync(lib) ? lib : undefined;
}

/**
 * Creates a session on the preferred provider. `auto` falls back to CPU (with the reason) when CUDA is
 * not installed or fails to initialise; `cuda` throws instead.
 */
export async function createInferenceSession(
  model: string | Uint8Array,
  preference: ExecutionProviderPreference,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<{ session: ort.InferenceSession; choice: ExecutionProviderChoice }> {
  const create = (provider: 'cuda' | 'cpu') =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...options, executionProviders: [provider] })
      : ort.InferenceSession.create(model, { ...options, executionProviders: [provider] });
  if (preference === 'cpu')
    return { session: await create('cpu'), choice: { provider: 'cpu', reason: 'CPU requested' } };

  const lib = cudaLibraryPath();
  let failure: string;
  if (lib) {
    try {
      return {
        session: await create('cuda'),
        choice: { provider: 'cuda', reason: `CUDA provider loaded from ${lib}` },
      };
    } catch (error) {
      failure = `CUDA provider failed to initialise: ${(error as Error).message}`;
    }
  } else {
    failure =
      'CUDA provider library not installed (install onnxruntime-node with --onnxruntime-node-install=cuda12 on a GPU machine)';
  }
  if (preference === 'cuda') throw new ExecutionProviderError(failure);
  return { session: await create('cpu'), choice: { provider: 'cpu', reason: failure } };
}
