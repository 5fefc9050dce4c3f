import { ToolGymError } from '@toolgym/protocol';

/** Why a model directory could not be used. */
export type ModelDirErrorCode = 'missing_model_dir' | 'missing_model_file' | 'malformed_model_file';

/** A configuration error: the model directory is missing or broken; `file` names what to fix. */
export class ModelDirError extends ToolGymError {
  constructor(
    code: ModelDirErrorCode,
    readonly file: string,
    message: string,
    hint?: string,
  ) {
    super(code, `${file}: ${message}`, hint);
  }
}

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
