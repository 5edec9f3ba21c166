// @ticksync/client: the client side of ticksync's game schema and delta
// snapshots. loadSchema reads a game's compiled schema (.bfbs) and checks
// its hash; layoutFromSchema + compileLayout give the delta layout;
// Receiver applies the snapshots the server sends and yields typed worlds.

export { loadSchema, formatFloat } from "./schema.js";
export type { Schema, SchemaTable, SchemaField, SchemaEnum, SchemaEvents, FieldType, Role, LoadOptions } from "./schema.js";
export { compileLayout, layoutFromSchema } from "./layout.js";
export type { Layout, LayoutKind, LayoutField, Codec, CodecKind, CodecField } from "./layout.js";
export { Decoder, Receiver } from "./delta.js";
export type { ReceiverOptions } from "./delta.js";
export { Entity, World } from "./world.js";
export type { Value, RawValue } from "./world.js";
export { SchemaError, DeltaError } from "./errors.js";
export type { DeltaErrorCode } from "./errors.js";
export { sha256, hex } from "./sha256.js";
