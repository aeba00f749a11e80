/** Errors a user can tell apart with instanceof; each message says what to do. */

export class ReplayError extends Error {
  override name = "ReplayError";
}

/** A recording id that is not one we could have made: refused before it reaches storage. */
export class InvalidIdError extends ReplayError {
  override name = "InvalidIdError";
  constructor(readonly id: unknown) {
    super(`invalid recording id ${JSON.stringify(String(id)).slice(0, 120)}: ids are 1-100 characters of A-Z a-z 0-9 _ -`);
  }
}

export class RecordingNotFoundError extends ReplayError {
  override name = "RecordingNotFoundError";
  constructor(readonly id: string) {
    super(`recording ${id} not found`);
  }
}

/** The stored bytes of one recording cannot be read; every other recording is unaffected. */
export class CorruptRecordingError extends ReplayError {
  override name = "CorruptRecordingError";
  constructor(readonly id: string, reason: string) {
    super(`recording ${id} is corrupt (${reason}); delete it or restore it from a backup`);
  }
}
