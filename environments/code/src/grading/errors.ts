import { ToolGymError } from '@toolgym/protocol';

/** The grader process itself failed (not the solution): the episode cannot be graded. */
export class GraderFailureError extends ToolGymError {
  constructor(message: string) {
    super(
      'grader_failed',
      message,
      'the grader runs with the host python3; its message above says what broke',
    );
  }
}
