// @ticksync/client: the client side of ticksync's generic game protocol.
// connect + Client.joinOrCreate/join give a Room that plays any game from
// its compiled schema: typed worlds (onState), server events (onEvent),
// inputs and reliable client events built from values, resume, redirects
// and failover. Beneath it: loadSchema reads a game's .bfbs and checks its
// hash; layoutFromSchema + compileLayout give the delta layout; Receiver
// applies the snapshots; encodeTable/encodeEvent/decodeEvent build and read
// the game's own tables; encodeClient/decodeServer speak the envelope.

export { connect, Client, Room, TicksyncError, ErrorCode, CloseCode, MaxHeldEvents, failoverOrder, schemaURL, toWebSocketURL, clusterURL, parseNodes } from "./client.js";
export type { ClientOptions, JoinOptions, GameEvent, RoomState, RoomStats, WebSocketLike, WebSocketConstructor, FetchLike } from "./client.js";
export { GameWorld, GameEntity } from "./gameworld.js";
export { buildTable, encodeTable, decodeTable, encodeEvent, decodeEvent, eventMember, isBigField } from "./values.js";
export type { FieldValue, Values, ValuesInput, DecodedEvent } from "./values.js";
export { encodeClient, decodeClient, encodeServer, decodeServer, FileIdentifier, MaxSnapshotEvents } from "./envelope.js";
export type { ClientMsg, ServerMsg, HelloMsg, InputMsg, EventMsg, WelcomeMsg, SnapshotMsg } from "./envelope.js";
export { FbTable, finish } from "./fbwriter.js";
export { loadSchema, formatFloat } from "./schema.js";
export type { Schema, SchemaTable, SchemaField, SchemaEnum, SchemaEvents, FieldType, Role, LoadOptions } from "./schema.js";
export { compileLayout, layoutFromSchema } from "./layout.js";
export type { Layout, LayoutKind, LayoutField, Codec, CodecKind, CodecField } from "./layout.js";
export { Decoder, Receiver } from "./delta.js";
export type { ReceiverOptions } from "./delta.js";
export { Entity, World } from "./world.js";
export type { Value, RawValue } from "./world.js";
export { SchemaError, DeltaError, ProtocolError } from "./errors.js";
export type { DeltaErrorCode } from "./errors.js";
export { sha256, hex } from "./sha256.js";
