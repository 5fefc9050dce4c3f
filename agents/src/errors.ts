import { ToolGymError } from '@toolgym/protocol';

/**
 * Episode-fatal failures of the agent side. The agent loop turns them into a `failed` episode with
 * `failure.code` = the error's code; they never escape a rollout.
 */
export class EpisodeFailure extends ToolGymError {}

/** The policy could not produce a turn (engine unreachable, bad response, timeout). */
export class PolicyError extends EpisodeFailure {
  constructor(
    message: string,
    /** HTTP status of the engine's answer, when there was one. */
    readonly status?: number,
    code = 'policy_error',
  ) {
    super(code, message);
  }
}

/**
 * The chat template rendered the conversation so far differently from the tokens the trajectory
 * holds (what the engine sampled plus earlier observations). Training on such a trajectory would
 * teach the model a context it never sees, so the episode fails instead.
 */
export class TemplateMismatchError extends EpisodeFailure {
  constructor(
    /** Character offset of the first difference. */
    readonly offset: number,
    readonly expected: string,
    readonly rendered: string,
  ) {
    super(
      'template_mismatch',
      `the chat template re-renders the conversation differently at character ${offset}: ` +
        `the trajectory holds ${JSON.stringify(expected)} but the template renders ${JSON.stringify(rendered)}`,
      'use a template that renders earlier turns verbatim (assistant content as sampled), or fix the template',
    );
  }
}

/** A policy spec (`--policy`) that cannot be turned into a policy: a configuration error. */
export class PolicySpecError extends ToolGymError {
  constructor(message: string, hint?: string) {
    super('invalid_policy_spec', message, hint);
  }
}

/** A chat template that cannot be loaded or rendered: a configuration error. */
export class ChatTemplateError extends ToolGymError {
  constructor(message: string, hint?: string) {
    super('invalid_chat_template', message, hint);
  }
}

/** The policy returned a token id the token record cannot hold: not an integer in [0, 2^31). */
export class SampledTokenError extends PolicyError {
  constructor(id: number, index: number) {
    super(
      `the policy returned ${id} as the token id at position ${index} of its turn; token ids are integers in [0, 2^31)`,
      undefined,
      'policy_bad_token',
    );
  }
}
