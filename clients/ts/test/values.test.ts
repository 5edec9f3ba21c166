// Game tables from values and back (values.ts), and the envelope
// (envelope.ts): round trips, the checks on values, damaged buffers.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeClient, decodeEvent, decodeServer, decodeTable, encodeClient, encodeEvent, encodeServer, encodeTable, FbTable, finish,
  loadSchema, ProtocolError, type ClientMsg, type ServerMsg,
} from "../src/index.js";
import { read } from "./paths.js";

const cards = loadSchema(read("schema/gameschema/testdata/cards.bfbs"));
const arena = loadSchema(read("schema/gameschema/testdata/arena.bfbs"));

test("tables: values round trip, with defaults, enums by name, nested struct values", () => {
  assert.deepEqual(decodeTable(cards.input, encodeTable(cards.input, {})), { "pointer.x": 0, "pointer.y": 0, "pointer.z": 0, hover: -1, grab: false });
  const v = { "pointer.x": 1.25, "pointer.y": -3, "pointer.z": 0.5, hover: 51, grab: true };
  assert.deepEqual(decodeTable(cards.input, encodeTable(cards.input, v)), v);
  assert.deepEqual(decodeTable(cards.input, encodeTable(cards.input, { pointer: { x: 1.25, y: -3, z: 0.5 }, hover: 51, grab: true })), v);
  // float32: the value as a float32 holds it
  assert.equal(decodeTable(cards.input, encodeTable(cards.input, { pointer: { x: 0.1 } }))["pointer.x"], Math.fround(0.1));

  const join = { name: "zoë", avatar: new Uint8Array([1, 2, 3]), seat_pref: 7 };
  assert.deepEqual(decodeTable(cards.join!, encodeTable(cards.join!, join)), join);

  // An entity table (64-bit fields, structs after strings): every field.
  const p = cards.entities[0]!;
  const pv = {
    seat: 3, name: "x", score: -(1n << 62n), ready: true, hand: new Uint8Array([9]), hand_size: 13,
    "pointer.x": 1, "pointer.y": 2, "pointer.z": 3, "pointer_vel.x": -1, "pointer_vel.y": 0, "pointer_vel.z": 0.5, secret_bid: 65535,
  };
  assert.deepEqual(decodeTable(p, encodeTable(p, pv)), pv);
  const board = cards.entities[1]!;
  const bv = { phase: 2, trump: 3, pot: (1n << 64n) - 1n, turn_seat: 1, clock: 3599.5, round: 9, dealer_seat: -1 };
  assert.deepEqual(decodeTable(board, encodeTable(board, { ...bv, phase: "Playing", trump: "Spades" })), bv);

  // arena: bit flags, fixed-point integers of an entity.
  assert.equal(decodeTable(arena.input, encodeTable(arena.input, { buttons: 5, move_x: -100 })).buttons, 5);
  const av = arena.entities[0]!;
  const got = decodeTable(av, encodeTable(av, { x: 10.5, y: -0.0625, hp: 100, team: "Blue", name: "a" }));
  assert.equal(got.x, 10.5);
  assert.equal(got.y, -0.0625);
  assert.equal(got.team, 1);
});

test("tables: values a field does not take are refused before anything is sent", () => {
  const cases: [object, typeof RangeError | typeof TypeError][] = [
    [{ hover: 52 }, RangeError],
    [{ hover: -2 }, RangeError],
    [{ hover: 1.5 }, RangeError],
    [{ grab: "yes" }, TypeError],
    [{ pointer: { x: Infinity } }, RangeError],
    [{ pointer: { w: 1 } }, TypeError],
    [{ nope: 1 }, TypeError],
  ];
  for (const [v, E] of cases) assert.throws(() => encodeTable(cards.input, v as never), E, JSON.stringify(v));
  assert.throws(() => encodeTable(arena.input, { buttons: 8 }), RangeError);
  assert.throws(() => encodeTable(arena.input, { move_x: 101 }), RangeError);
  assert.throws(() => encodeTable(cards.join!, { name: "x".repeat(25) }), RangeError);
  assert.throws(() => encodeTable(cards.join!, { avatar: new Uint8Array(65) }), RangeError);
  assert.throws(() => encodeTable(cards.entities[1]!, { trump: "Stars" }), RangeError);
  assert.throws(() => encodeTable(cards.entities[1]!, { round: 70000 }), RangeError);
});

test("events: by member or table name, both directions", () => {
  const ce = cards.clientEvents!, se = cards.serverEvents!;
  assert.deepEqual(ce.members, ["PlayCard", "Bid", "Say"]);
  assert.deepEqual(decodeEvent(ce, encodeEvent(ce, "PlayCard", { suit: "Clubs", rank: 1 })), {
    name: "PlayCard", table: "cards.PlayCard", values: { suit: 0, rank: 1 },
  });
  assert.deepEqual(decodeEvent(ce, encodeEvent(ce, "cards.Bid", { amount: 500, pass: true })).values, { amount: 500, pass: true });
  assert.deepEqual(decodeEvent(se, encodeEvent(se, "Say", { text: "¡hola!" })), { name: "Say", table: "cards.Say", values: { text: "¡hola!" } });
  assert.throws(() => encodeEvent(ce, "Trick", {}), TypeError);
  assert.throws(() => encodeEvent(ce, "Say", {}), TypeError);
  // A wrapper without a member, or with an unknown type.
  assert.throws(() => decodeEvent(ce, finish(new FbTable())), ProtocolError);
  assert.throws(() => decodeEvent(ce, finish(new FbTable().u8(ce.typeSlot, 9).table(ce.valueSlot, new FbTable()))), ProtocolError);
});

test("envelope: every message round trips", () => {
  const client: ClientMsg[] = [
    { kind: "hello", token: "t", matchId: "m", resumeToken: "r", lastTick: 77, name: "n", game: "cards", join: new Uint8Array([1, 2]), schemaHash: "ab".repeat(32), eventAck: 9 },
    { kind: "hello", token: "", matchId: "", resumeToken: "", lastTick: 0, name: "", game: "", join: new Uint8Array(0), schemaHash: "", eventAck: 0 },
    { kind: "input", seq: 1, targetTick: 0xffffffff, ackTick: 5, data: new Uint8Array([7, 8, 9]), eventAck: 4 },
    { kind: "event", seq: 3, tick: 0, data: new Uint8Array([1]) },
    { kind: "leave" },
    { kind: "ping", clientTime: (1n << 64n) - 1n },
  ];
  for (const m of client) assert.deepEqual(decodeClient(encodeClient(m)), m);
  const server: ServerMsg[] = [
    { kind: "welcome", sessionId: "s", resumeToken: "r", playerId: 7, entityId: 9, tickRate: 30, serverTick: 100, nodeId: "n1", matchId: "m1", game: "cards", schemaHash: "cd".repeat(32), eventSeq: 12 },
    { kind: "snapshot", tick: 5, baselineTick: 3, lastInputSeq: 2, serverTimeMs: 1234567890123n, state: new Uint8Array([1, 2, 3]), events: [{ seq: 1, tick: 4, data: new Uint8Array([5]) }, { seq: 2, tick: 5, data: new Uint8Array(0) }], eventSeq: 3 },
    { kind: "snapshot", tick: 1, baselineTick: 0, lastInputSeq: 0, serverTimeMs: 0n, state: new Uint8Array(0), events: [], eventSeq: 0 },
    { kind: "redirect", url: "ws://n2/ws", matchId: "m1" },
    { kind: "error", code: 16, message: "schema mismatch" },
    { kind: "pong", clientTime: 1n, serverTimeMs: 2n },
  ];
  for (const m of server) assert.deepEqual(decodeServer(encodeServer(m)), m);
});

test("envelope: damaged server messages throw ProtocolError only", () => {
  const good = encodeServer({ kind: "snapshot", tick: 5, baselineTick: 3, lastInputSeq: 2, serverTimeMs: 9n, state: new Uint8Array([1, 2, 3]), events: [{ seq: 1, tick: 4, data: new Uint8Array([5, 6]) }], eventSeq: 3 });
  assert.throws(() => decodeServer(new Uint8Array(4)), ProtocolError);
  assert.throws(() => decodeServer(encodeClient({ kind: "leave" }).map((b, i) => (i === 4 ? 0 : b))), ProtocolError);
  let seed = 1;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const b = good.slice(0, rnd(3) === 0 ? rnd(good.length) : good.length);
    for (let k = 0; k < 1 + rnd(3); k++) if (b.length > 0) b[rnd(b.length)] = rnd(256);
    try {
      decodeServer(b);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      refused++;
    }
  }
  assert.ok(refused > 100, `${refused} refused`);
});
