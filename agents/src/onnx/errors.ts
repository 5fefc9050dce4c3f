/** Why a model directory could not be used; `file` names the file to fix. */
export type ModelDirErrorCode = 'missing-dir' | 'missing-file' | 'malformed-file' | 'unsupported-model';

export class ModelDirError extends Error {
  override readonly name = 'ModelDirError';
  constructor(
    readonly code: ModelDirErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** A request the policy cannot serve as asked (prompt too long for the position table, bad sampling values). */
export class PolicyRequestError extends Error {
  override readonly name = 'PolicyRequestError';
  constructor(
    readonly code: 'prompt-too-long' | 'empty-prompt' | 'bad-sampling' | 'bad-token-id' | 'closed',
    message: string,
  ) {
    super(message);
  }
}
