import { ToolGymError } from '@toolgym/protocol';

/**
 * `invalid_request` and `backend_unavailable` are configuration errors; `sandbox_failed` and
 * `closed` are episode-fatal; `sandbox_busy`: every sandbox the machine allows was busy for longer
 * than the run may wait (the caller may retry later or lower its concurrency).
 */
export type SandboxErrorCode = 'invalid_request' | 'backend_unavailable' | 'sandbox_failed' | 'closed' | 'sandbox_busy';

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
