import { ToolGymError } from '@toolgym/protocol';

export type PolicyRequestErrorCode =
  | 'prompt_too_long'
  | 'empty_prompt'
  | 'bad_sampling'
  | 'bad_token_id'
  | 'bad_settings'
  | 'policy_closed';

/** A request (or policy setting) the policy cannot serve as asked: prompt longer than the position table, bad sampling values. */
export class PolicyRequestError extends ToolGymError {
  constructor(code: PolicyRequestErrorCode, message: string) {
    super(code, message);
  }
}
