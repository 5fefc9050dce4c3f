import { ToolGymError } from '@toolgym/protocol';

/** Errors of the replay package: `ToolGymError`s with a stable code and a hint. */
export class ReplayError extends ToolGymError {}

/** Data handed to the store does not match the protocol (a programming error of the caller). */
export class InvalidTrajectoryError extends ReplayError {
  constructor(message: string) {
    super(
      'invalid_trajectory',
      message,
      'Trajectories must validate against TrajectorySchema (@toolgym/protocol).',
    );
  }
}

/** A trajectory or group id was stored before; the store is append-only. */
export class DuplicateIdError extends ReplayError {
  constructor(kind: 'trajectory' | 'group', id: string) {
    super(
      'duplicate_id',
      `The store already holds ${kind} '${id}'.`,
      'Ids must be unique; the store never overwrites.',
    );
  }
}

/** Server or store options that cannot work (a token missing off loopback, a bad path, …). */
export class ReplayConfigError extends ReplayError {
  constructor(message: string, hint?: string) {
    super('invalid_config', message, hint);
  }
}

/** A lookup by id found nothing. */
export class NotFoundError extends ReplayError {
  constructor(kind: string, id: string) {
    super('not_found', `No ${kind} '${id}' in the store.`);
  }
}
