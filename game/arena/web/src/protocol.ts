// Encoding of client messages and decoding of server messages.
//
// Every WebSocket message is one FlatBuffers buffer (file identifier TSY1):
// ClientMessage from us, ServerMessage from the node. The generated accessors
// under schema/ts are used only here; the rest of the client sees plain
// objects. The JavaScript runtime cannot overrun memory, but accessors of a
// corrupt buffer may return garbage, so decodeServerMessage checks the frame
// (size, identifier, root and body offsets) first, turns any exception into
// a ProtocolError, and the delta reader (delta.ts) bounds-checks every byte.

import * as flatbuffers from "flatbuffers";

import { ClientBody } from "../../../../schema/ts/fb/client-body";
import { ClientMessage } from "../../../../schema/ts/fb/client-message";
import { Entity as FBEntity } from "../../../../schema/ts/fb/entity";
import { Error as FBError } from "../../../../schema/ts/fb/error";
import { Hello as FBHello } from "../../../../schema/ts/fb/hello";
import { Input as FBInput } from "../../../../schema/ts/fb/input";
import { Leave } from "../../../../schema/ts/fb/leave";
import { Ping } from "../../../../schema/ts/fb/ping";
import { Pong } from "../../../../schema/ts/fb/pong";
import { Redirect as FBRedirect } from "../../../../schema/ts/fb/redirect";
import { ServerBody } from "../../../../schema/ts/fb/server-body";
import { ServerMessage } from "../../../../schema/ts/fb/server-message";
import { Snapshot as FBSnapshot } from "../../../../schema/ts/fb/snapshot";
import { Welcome as FBWelcome } from "../../../../schema/ts/fb/welcome";

import type { Entity } from "./delta";

/** The FlatBuffers file identifier of every ticksync message. */
export const FileIdentifier = "TSY1";

/** Axis limits of Input.move_x and move_y. */
export const AxisMax = 100;

/** Thrown by decodeServerMessage for bytes that are not a valid message. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export interface Hello {
  token?: string;
  matchId?: string;
  resumeToken?: string;
  lastTick?: number;
  name?: string;
  game?: string;
}

export interface Input {
  seq: number;
  targetTick: number;
  ackTick: number;
  moveX: number; // -100..100
  moveY: number; // -100..100
  aim: number; // 0..65535 = one turn
  buttons: number;
}

export interface Welcome {
  kind: "welcome";
  sessionId: string;
  resumeToken: string;
  playerId: number;
  entityId: number;
  tickRate: number;
  serverTick: number;
  nodeId: string;
  matchId: string;
}

export interface Snapshot {
  kind: "snapshot";
  tick: number;
  baselineTick: number; // 0: full snapshot
  lastInputSeq: number;
  spawned: Entity[];
  changes: Uint8Array; // a copy, safe to keep
  removed: number[];
  serverTimeMs: number;
}

export interface Redirect {
  kind: "redirect";
  url: string;
  matchId: string;
}

export interface ErrorMsg {
  kind: "error";
  code: number; // schema.ErrorCode; the close code that follows is 4000+code
  message: string;
}

export interface PongMsg {
  kind: "pong";
  clientTime: bigint;
  serverTimeMs: number;
}

export type ServerMsg = Welcome | Snapshot | Redirect | ErrorMsg | PongMsg;

/** Encoder builds client messages with one reused builder. */
export class Encoder {
  private readonly b = new flatbuffers.Builder(128);

  private str(s: string | undefined): flatbuffers.Offset {
    return s ? this.b.createString(s) : 0;
  }

  private finish(kind: ClientBody, body: flatbuffers.Offset): Uint8Array {
    const b = this.b;
    const root = ClientMessage.createClientMessage(b, kind, body);
    ClientMessage.finishClientMessageBuffer(b, root);
    // asUint8Array aliases the builder; return a copy that outlives clear().
    return b.asUint8Array().slice();
  }

  hello(h: Hello): Uint8Array {
    const b = this.b;
    b.clear();
    const tok = this.str(h.token);
    const match = this.str(h.matchId);
    const rt = this.str(h.resumeToken);
    const name = this.str(h.name);
    const game = this.str(h.game);
    const body = FBHello.createHello(b, tok, match, rt, h.lastTick ?? 0, name, game, 0, 0);
    return this.finish(ClientBody.Hello, body);
  }

  input(i: Input): Uint8Array {
    const b = this.b;
    b.clear();
    const body = FBInput.createInput(b, i.seq, i.targetTick, i.ackTick, clampAxis(i.moveX), clampAxis(i.moveY), i.aim & 0xffff, i.buttons & 0xff, 0, 0);
    return this.finish(ClientBody.Input, body);
  }

  ping(clientTime: bigint): Uint8Array {
    const b = this.b;
    b.clear();
    return this.finish(ClientBody.Ping, Ping.createPing(b, clientTime));
  }

  leave(): Uint8Array {
    const b = this.b;
    b.clear();
    Leave.startLeave(b);
    return this.finish(ClientBody.Leave, Leave.endLeave(b));
  }
}

function clampAxis(v: number): number {
  return Math.max(-AxisMax, Math.min(AxisMax, Math.round(v)));
}

/** decodeServerMessage decodes one binary frame from the node. */
export function decodeServerMessage(bytes: Uint8Array): ServerMsg {
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`malformed message: ${String(e)}`);
  }
}

function decode(bytes: Uint8Array): ServerMsg {
  if (bytes.length < 12) throw new ProtocolError(`message of ${bytes.length} bytes is too short`);
  const bb = new flatbuffers.ByteBuffer(bytes);
  if (bb.getBufferIdentifier() !== FileIdentifier) throw new ProtocolError("not a TSY1 message");
  checkTable(bb, bb.readUint32(0));
  const msg = ServerMessage.getRootAsServerMessage(bb);
  const kind = msg.bodyType();
  const bodyOffset = bb.__offset(msg.bb_pos, 6);
  if (!bodyOffset) throw new ProtocolError("message has no body");
  checkTable(bb, msg.bb_pos + bodyOffset + bb.readUint32(msg.bb_pos + bodyOffset));
  switch (kind) {
    case ServerBody.Welcome: {
      const w = msg.body(new FBWelcome()) as FBWelcome;
      return {
        kind: "welcome",
        sessionId: w.sessionId() ?? "",
        resumeToken: w.resumeToken() ?? "",
        playerId: w.playerId(),
        entityId: w.entityId(),
        tickRate: w.tickRate(),
        serverTick: w.serverTick(),
        nodeId: w.nodeId() ?? "",
        matchId: w.matchId() ?? "",
      };
    }
    case ServerBody.Snapshot: {
      const s = msg.body(new FBSnapshot()) as FBSnapshot;
      const n = s.spawnedLength();
      vectorFits(bb, n * 24);
      const spawned: Entity[] = new Array(n);
      const fe = new FBEntity();
      for (let i = 0; i < n; i++) {
        s.spawned(i, fe);
        spawned[i] = {
          id: fe.id(),
          owner: fe.owner(),
          x: fe.x(),
          y: fe.y(),
          vx: fe.vx(),
          vy: fe.vy(),
          angle: fe.angle(),
          kind: fe.kind(),
          hp: fe.hp(),
        };
      }
      vectorFits(bb, s.changesLength());
      // changesArray views the frame; copy it so that the frame can go.
      const changes = s.changesArray()?.slice() ?? new Uint8Array(0);
      const nr = s.removedLength();
      vectorFits(bb, nr * 4);
      const removed: number[] = new Array(nr);
      for (let i = 0; i < nr; i++) removed[i] = s.removed(i)!;
      return {
        kind: "snapshot",
        tick: s.tick(),
        baselineTick: s.baselineTick(),
        lastInputSeq: s.lastInputSeq(),
        spawned,
        changes,
        removed,
        serverTimeMs: Number(s.serverTimeMs()),
      };
    }
    case ServerBody.Redirect: {
      const r = msg.body(new FBRedirect()) as FBRedirect;
      return { kind: "redirect", url: r.url() ?? "", matchId: r.matchId() ?? "" };
    }
    case ServerBody.Error: {
      const e = msg.body(new FBError()) as FBError;
      return { kind: "error", code: e.code(), message: e.message() ?? "" };
    }
    case ServerBody.Pong: {
      const p = msg.body(new Pong()) as Pong;
      return { kind: "pong", clientTime: p.clientTime(), serverTimeMs: Number(p.serverTimeMs()) };
    }
    default:
      throw new ProtocolError(`unknown message type ${kind}`);
  }
}

// checkTable checks that a table and its vtable lie inside the buffer.
function checkTable(bb: flatbuffers.ByteBuffer, pos: number): void {
  const size = bb.capacity();
  if (pos < 0 || pos + 4 > size) throw new ProtocolError("table offset out of bounds");
  const vt = pos - bb.readInt32(pos);
  if (vt < 0 || vt + 4 > size) throw new ProtocolError("vtable offset out of bounds");
  const vtLen = bb.readUint16(vt);
  const objLen = bb.readUint16(vt + 2);
  if (vtLen < 4 || vt + vtLen > size || pos + objLen > size) throw new ProtocolError("vtable out of bounds");
}

// vectorFits refuses vectors longer than the whole buffer (a corrupt length
// would otherwise make us allocate and loop over garbage).
function vectorFits(bb: flatbuffers.ByteBuffer, bytes: number): void {
  if (bytes > bb.capacity()) throw new ProtocolError("vector longer than the message");
}
