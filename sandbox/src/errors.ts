/** Sandbox failures that are not the program's own: the episode-fatal or configuration channel. */
export class SandboxError extends Error {
  constructor(
    /**
     * `invalid_request`, `backend_unavailable`, `sandbox_failed`, `closed`, and `sandbox_busy`:
     * every sandbox the machine allows was busy for longer than the run may wait.
     */
    readonly code: 'invalid_request' | 'backend_unavailable' | 'sandbox_failed' | 'closed' | 'sandbox_busy',
    message: string,
    /** What to do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }

  render(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}
