/**
 * The base of every error a user can cause (ARCHITECTURE.md, error channels): a stable
 * `code` (never match on the message), the message, and a hint that says what to fix. The CLI
 * renders any of them as one short block instead of a stack trace.
 */
export class ToolGymError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** The message and the hint, for a terminal. */
  render(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}
