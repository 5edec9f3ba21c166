/** SchemaError: a .bfbs the loader cannot read or does not accept. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

/** The classes of a refused snapshot, as Receiver.apply reports them. */
export type DeltaErrorCode =
  /** bytes that do not apply to the baseline (or a bad tick/baseline pair) */
  | "bad"
  /** a tick not after the newest applied: a reordered or duplicated snapshot; ignore it */
  | "stale"
  /** a baseline the receiver no longer holds: keep acknowledging newest */
  | "nobaseline";

/** DeltaError: a snapshot the receiver refused; nothing changed. */
export class DeltaError extends Error {
  constructor(readonly code: DeltaErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "DeltaError";
  }
}

/** ProtocolError: bytes from the server that are not a valid message or game buffer. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}
