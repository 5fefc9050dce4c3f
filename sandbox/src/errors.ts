import { ToolGymError } from '@toolgym/protocol';

/** `invalid_request` and `backend_unavailable` are configuration errors; `sandbox_failed` and `closed` are episode-fatal. */
export type SandboxErrorCode = 'invalid_request' | 'backend_unavailable' | 'sandbox_failed' | 'closed';

/** Sandbox failures that are not the program's own: the episode-fatal or configuration channel. */
export class SandboxError extends ToolGymError {
  constructor(
    override readonly code: SandboxErrorCode,
    message: string,
    hint?: string,
  ) {
    super(code, message, hint);
  }
}
