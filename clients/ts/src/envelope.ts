// The envelope (schema/ticksync.fbs): every WebSocket message is one
// FlatBuffers buffer with file identifier "TSY1", ClientMessage from the
// client, ServerMessage from the node. Written with fbwriter, read with the
// bounds-checked reader: a damaged server message throws a ProtocolError,
// never an out-of-bounds read or a garbage value of the wrong type.
//
// Both directions are here, encode and decode, so that tests and tools
// (fake nodes, proxies) speak the same code. Field ids (the slot numbers
// below) follow ticksync.fbs: a field's id is its position in its table,
// deprecated fields (unused_N) included.
//
// Why not flatc's TypeScript for the envelope (flatc --ts): it needs the
// flatbuffers runtime as a dependency, its accessors read unverified bytes
// without checks, and the game's own tables need a schema-driven writer
// anyway. The interop tests (test/interop.test.ts, interop_test.go) pin
// this codec to Go's encoder, verifier and decoder byte for byte.

import { Reader, type Table } from "./bfbs.js";
import { ProtocolError } from "./errors.js";
import { FbTable, finish } from "./fbwriter.js";

/** The FlatBuffers file identifier of every ticksync message. */
export const FileIdentifier = "TSY1";

/** Most events one Snapshot may carry (schema.MaxSnapshotEvents). */
export const MaxSnapshotEvents = 1024;

export interface HelloMsg {
  token?: string;
  matchId?: string;
  resumeToken?: string;
  lastTick?: number;
  name?: string;
  game?: string;
  /** the game's join payload: a buffer of its (ticksync_join) table */
  join?: Uint8Array;
  /** hex sha256 of the game schema the client speaks; empty: any */
  schemaHash?: string;
  /** resume: the newest server event seq the client has received (0: none) */
  eventAck?: number;
}

export interface InputMsg {
  seq: number;
  targetTick: number;
  ackTick: number;
  /** the game's input: a buffer of its (ticksync_input) table */
  data?: Uint8Array;
  /** newest server event seq received */
  eventAck?: number;
}

export interface EventMsg {
  seq: number;
  tick: number;
  /** a buffer of the game's (ticksync_events) wrapper */
  data: Uint8Array;
}

export interface WelcomeMsg {
  sessionId: string;
  resumeToken: string;
  playerId: number;
  entityId: number;
  tickRate: number;
  serverTick: number;
  nodeId: string;
  matchId: string;
  game: string;
  schemaHash: string;
  eventSeq: number;
}

export interface SnapshotMsg {
  tick: number;
  baselineTick: number;
  lastInputSeq: number;
  serverTimeMs: bigint;
  /** the world as gamedelta bytes against baselineTick */
  state: Uint8Array;
  /** this player's server events not yet acknowledged, ascending seq */
  events: EventMsg[];
  /** newest client event seq the match applied */
  eventSeq: number;
}

export type ClientMsg =
  | ({ kind: "hello" } & HelloMsg)
  | ({ kind: "input" } & InputMsg)
  | ({ kind: "event" } & EventMsg)
  | { kind: "leave" }
  | { kind: "ping"; clientTime: bigint };

export type ServerMsg =
  | ({ kind: "welcome" } & WelcomeMsg)
  | ({ kind: "snapshot" } & SnapshotMsg)
  | { kind: "redirect"; url: string; matchId: string }
  | { kind: "error"; code: number; message: string }
  | { kind: "pong"; clientTime: bigint; serverTimeMs: bigint };

const clientKinds = ["", "hello", "input", "leave", "ping", "event"] as const;
const serverKinds = ["", "welcome", "snapshot", "redirect", "error", "pong"] as const;

// Optional fields: written only when set (absent reads as zero or empty).
function str(t: FbTable, slot: number, s: string | undefined): void { if (s) t.str(slot, s); }
function u32(t: FbTable, slot: number, v: number | undefined): void { if (v) t.u32(slot, v >>> 0); }
function bytes(t: FbTable, slot: number, b: Uint8Array | undefined): void { if (b && b.length > 0) t.bytes(slot, b); }
function u64(t: FbTable, slot: number, v: bigint | undefined): void { if (v) t.u64(slot, BigInt.asUintN(64, v)); }

function event(e: EventMsg): FbTable {
  const t = new FbTable();
  u32(t, 0, e.seq);
  u32(t, 1, e.tick);
  bytes(t, 2, e.data);
  return t;
}

function message(kind: number, body: FbTable): Uint8Array {
  return finish(new FbTable().u8(0, kind).table(1, body), FileIdentifier);
}

/** encodeClient writes a client message. */
export function encodeClient(m: ClientMsg): Uint8Array {
  const t = new FbTable();
  switch (m.kind) {
    case "hello":
      str(t, 0, m.token);
      str(t, 1, m.matchId);
      str(t, 2, m.resumeToken);
      u32(t, 3, m.lastTick);
      str(t, 4, m.name);
      str(t, 5, m.game);
      bytes(t, 6, m.join);
      str(t, 7, m.schemaHash);
      u32(t, 8, m.eventAck);
      return message(1, t);
    case "input":
      u32(t, 0, m.seq);
      u32(t, 1, m.targetTick);
      u32(t, 2, m.ackTick);
      bytes(t, 7, m.data);
      u32(t, 8, m.eventAck);
      return message(2, t);
    case "leave":
      return message(3, t);
    case "ping":
      u64(t, 0, m.clientTime);
      return message(4, t);
    case "event":
      return message(5, event(m));
  }
}

/** encodeServer writes a server message (for tests and tools that stand in for a node). */
export function encodeServer(m: ServerMsg): Uint8Array {
  const t = new FbTable();
  switch (m.kind) {
    case "welcome":
      str(t, 0, m.sessionId);
      str(t, 1, m.resumeToken);
      u32(t, 2, m.playerId);
      u32(t, 3, m.entityId);
      if (m.tickRate) t.u16(4, m.tickRate);
      u32(t, 5, m.serverTick);
      str(t, 6, m.nodeId);
      str(t, 7, m.matchId);
      str(t, 8, m.game);
      str(t, 9, m.schemaHash);
      u32(t, 10, m.eventSeq);
      return message(1, t);
    case "snapshot":
      u32(t, 0, m.tick);
      u32(t, 1, m.baselineTick);
      u32(t, 2, m.lastInputSeq);
      u64(t, 6, m.serverTimeMs);
      bytes(t, 7, m.state);
      if (m.events.length > 0) t.tables(8, m.events.map(event));
      u32(t, 9, m.eventSeq);
      return message(2, t);
    case "redirect":
      str(t, 0, m.url);
      str(t, 1, m.matchId);
      return message(3, t);
    case "error":
      if (m.code) t.u16(0, m.code);
      str(t, 1, m.message);
      return message(4, t);
    case "pong":
      u64(t, 0, m.clientTime);
      u64(t, 1, m.serverTimeMs);
      return message(5, t);
  }
}

/** body checks the frame and returns the union's type and body table. */
function body(buf: Uint8Array, what: string): { r: Reader; type: number; t: Table } {
  if (buf.length < 12) throw new ProtocolError(`${what}: ${buf.length} bytes: too short`);
  if (String.fromCharCode(buf[4]!, buf[5]!, buf[6]!, buf[7]!) !== FileIdentifier) {
    throw new ProtocolError(`${what}: file identifier is not ${FileIdentifier}`);
  }
  const r = new Reader(buf, (m) => new ProtocolError(`${what}: ${m}`), "message");
  const root = r.root();
  const type = root.u8(0);
  const t = root.table(1);
  if (type === 0 || !t) throw new ProtocolError(`${what}: no body`);
  return { r, type, t };
}

function readEvent(t: Table): EventMsg {
  return { seq: t.u32(0), tick: t.u32(1), data: t.bytes(2) };
}

/**
 * decodeServer reads a server message. Byte fields (state, event data)
 * alias buf. It throws a ProtocolError for bytes that are not a valid
 * message, or a message of a kind this client does not know.
 */
export function decodeServer(buf: Uint8Array): ServerMsg {
  const { type, t } = body(buf, "server message");
  switch (serverKinds[type]) {
    case "welcome":
      return {
        kind: "welcome", sessionId: t.str(0), resumeToken: t.str(1), playerId: t.u32(2), entityId: t.u32(3),
        tickRate: t.u16(4), serverTick: t.u32(5), nodeId: t.str(6), matchId: t.str(7), game: t.str(8),
        schemaHash: t.str(9), eventSeq: t.u32(10),
      };
    case "snapshot": {
      const evs = t.tables(8);
      if (evs.length > MaxSnapshotEvents) throw new ProtocolError(`snapshot: ${evs.length} events: at most ${MaxSnapshotEvents}`);
      return {
        kind: "snapshot", tick: t.u32(0), baselineTick: t.u32(1), lastInputSeq: t.u32(2), serverTimeMs: t.u64(6),
        state: t.bytes(7), events: evs.map(readEvent), eventSeq: t.u32(9),
      };
    }
    case "redirect":
      return { kind: "redirect", url: t.str(0), matchId: t.str(1) };
    case "error":
      return { kind: "error", code: t.u16(0), message: t.str(1) };
    case "pong":
      return { kind: "pong", clientTime: t.u64(0), serverTimeMs: t.u64(1) };
  }
  throw new ProtocolError(`server message: unknown body type ${type}`);
}

/** decodeClient reads a client message (for tests and tools that stand in for a node). */
export function decodeClient(buf: Uint8Array): ClientMsg {
  const { type, t } = body(buf, "client message");
  switch (clientKinds[type]) {
    case "hello":
      return {
        kind: "hello", token: t.str(0), matchId: t.str(1), resumeToken: t.str(2), lastTick: t.u32(3), name: t.str(4),
        game: t.str(5), join: t.bytes(6), schemaHash: t.str(7), eventAck: t.u32(8),
      };
    case "input":
      return { kind: "input", seq: t.u32(0), targetTick: t.u32(1), ackTick: t.u32(2), data: t.bytes(7), eventAck: t.u32(8) };
    case "leave":
      return { kind: "leave" };
    case "ping":
      return { kind: "ping", clientTime: t.u64(0) };
    case "event":
      return { kind: "event", ...readEvent(t) };
  }
  throw new ProtocolError(`client message: unknown body type ${type}`);
}
