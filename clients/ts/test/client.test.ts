// The Room against a scripted node (fakenode.ts) on loopback: join with a
// payload and the schema hash, worlds from the Go encoder's snapshots
// (schema/gamedelta/testdata/vectors/cards.json), inputs with ack_tick and
// event_ack, server events once each (those that came before a listener
// held for it), reliable client events across a resume, redirects,
// failover to another URL, stalls and the errors that close a room. The stall watch is off (stallTimeoutMs: 0) but in the
// stall test, so that a slow machine cannot turn a pause into a resume.

import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import {
  clusterURL, connect, decodeEvent, parseNodes, decodeTable, encodeEvent, ErrorCode, type GameEvent, type GameWorld, loadSchema, MaxHeldEvents, TicksyncError,
  type ValuesInput, type World,
} from "../src/index.js";
import { FakeNode, NodeWebSocket, waitFor } from "./fakenode.js";
import { fromHex, read, readText } from "./paths.js";

const bfbs = read("schema/gameschema/testdata/cards.bfbs");
const schema = loadSchema(bfbs);

interface VecEntity { id: number; kind: number; owner: number; values: string[] }
interface VecFile {
  player: number;
  history: number;
  steps: { tick: number; baseline: number; data: string; result: string; newest: number; world?: VecEntity[] }[];
}

function dump(w: World): VecEntity[] {
  return w.entities.map((e) => ({
    id: e.id, kind: e.kind, owner: e.owner,
    values: e.raw.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x.toString())),
  }));
}

const welcome = (over: Partial<{ playerId: number; nodeId: string; serverTick: number; eventSeq: number; resumeToken: string; matchId: string; schemaHash: string }> = {}) => ({
  kind: "welcome" as const, sessionId: "s", resumeToken: "r1", playerId: 7, entityId: 0, tickRate: 30, serverTick: 1,
  nodeId: "n1", matchId: "m1", game: "cards", schemaHash: schema.hash, eventSeq: 0, ...over,
});

const snapshot = (tick: number, over: Partial<{ baselineTick: number; state: Uint8Array; events: { seq: number; tick: number; data: Uint8Array }[]; eventSeq: number }> = {}) => ({
  kind: "snapshot" as const, tick, baselineTick: 0, lastInputSeq: 0, serverTimeMs: 0n, state: new Uint8Array(0), events: [], eventSeq: 0, ...over,
});

function last<T>(a: readonly T[]): T {
  assert.ok(a.length > 0);
  return a[a.length - 1]!;
}

async function node(t: TestContext): Promise<FakeNode> {
  const n = await new FakeNode({ cards: bfbs }).start();
  t.after(() => n.stop());
  return n;
}

test("joinOrCreate: Hello with join payload and schema hash; worlds from Go's snapshots; inputs", async (t) => {
  const vec = JSON.parse(readText("schema/gamedelta/testdata/vectors/cards.json")) as VecFile;
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, name: "ann", history: vec.history, stallTimeoutMs: 0 });
  const joining = client.joinOrCreate("cards", { name: "ann", seat_pref: 2 });
  const c = await n.conn(0);
  const hello = await c.next("hello");
  assert.equal(hello.game, "cards");
  assert.equal(hello.schemaHash, schema.hash);
  assert.equal(hello.name, "ann");
  assert.equal(hello.matchId, "");
  assert.equal(hello.resumeToken, "");
  assert.equal(hello.eventAck, 0);
  assert.deepEqual(decodeTable(schema.join!, hello.join!), { name: "ann", avatar: new Uint8Array(0), seat_pref: 2 });
  c.send(welcome({ playerId: vec.player }));
  const room = await joining;
  t.after(() => room.close());
  assert.equal(room.state, "playing");
  assert.equal(room.playerId, vec.player);
  assert.equal(room.matchId, "m1");
  assert.equal(room.schema.hash, schema.hash);

  const worlds: GameWorld[] = [];
  room.onState((w, tick) => {
    assert.equal(w.tick, tick);
    worlds.push(w);
  });
  const errors: TicksyncError[] = [];
  room.onError((e) => errors.push(e));
  let applied = 0, bad = 0;
  for (const step of vec.steps) {
    const before = worlds.length;
    c.send(snapshot(step.tick, { baselineTick: step.baseline, state: fromHex(step.data) }));
    if (step.result === "bad") bad++;
    if (step.result !== "applied") continue;
    applied++;
    await waitFor(`world of tick ${step.tick}`, () => worlds.length > before);
    assert.equal(worlds.length, before + 1, `tick ${step.tick}: one world`);
    assert.deepEqual(dump(last(worlds).raw), step.world, `tick ${step.tick}`);
  }
  assert.ok(applied >= 10, `${applied} snapshots applied`);
  const newest = last(vec.steps).newest;
  await c.until("input", (m) => m.ackTick === newest);
  await waitFor("bad snapshots reported", () => errors.length === bad);
  assert.ok(errors.every((e) => !e.fatal));

  // The typed view: named fields, real values of quantized fields, booleans, text.
  const w = last(worlds);
  const player = schema.entities[0]!;
  const px = player.fields.findIndex((f) => f.name === "pointer.x");
  let players = 0;
  for (const e of w.ofKind("Player")) {
    players++;
    assert.equal(e.kind, "cards.Player");
    assert.equal(e.fields["pointer.x"], Number(e.raw.raw[px] as bigint) * 0.01);
    assert.equal(typeof e.fields.ready, "boolean");
    assert.equal(typeof e.fields.name, "string");
    assert.equal(typeof e.fields.score, "bigint");
    assert.equal(e.get("seat"), Number(e.raw.raw[0] as bigint));
    assert.equal(w.get(e.id), e);
  }
  assert.equal(players + w.ofKind("cards.Board").length + w.ofKind("Card").length, w.size);

  // Inputs: the default input until sendInput, then the values given, each tick.
  const first = await c.next("input");
  assert.deepEqual(decodeTable(schema.input, first.data!), { "pointer.x": 0, "pointer.y": 0, "pointer.z": 0, hover: -1, grab: false });
  room.sendInput({ pointer: { x: 1.5, y: -2, z: 0.25 }, hover: 7, grab: true });
  const in2 = await c.until("input", (m) => decodeTable(schema.input, m.data!).grab === true);
  assert.deepEqual(decodeTable(schema.input, in2.data!), { "pointer.x": 1.5, "pointer.y": -2, "pointer.z": 0.25, hover: 7, grab: true });
  assert.ok(in2.seq > first.seq);
  assert.throws(() => room.sendInput({ hover: 52 }), RangeError);
  assert.throws(() => room.sendInput({ nope: 1 }), TypeError);
});

test("events: server events once each, event_ack; client events re-sent after a resume until applied", async (t) => {
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });
  const joining = client.joinOrCreate("cards", {}, { schema: bfbs });
  const c = await n.conn(0);
  await c.next("hello");
  c.send(welcome());
  const room = await joining;
  t.after(() => room.close());
  const got: GameEvent[] = [];
  room.onEvent((e) => got.push(e));

  const se = schema.serverEvents!;
  const ev = (seq: number, name: string, values: ValuesInput) => ({ seq, tick: 10 + seq, data: encodeEvent(se, name, values) });
  c.send(snapshot(2, { events: [ev(1, "Trick", { winner_seat: 3, cards: new Uint8Array([1, 2]) }), ev(2, "Say", { text: "hi" })] }));
  c.send(snapshot(3, { events: [ev(1, "Trick", { winner_seat: 3 }), ev(2, "Say", { text: "hi" }), ev(3, "Say", { text: "again" })] }));
  await waitFor("three events", () => got.length >= 3);
  assert.deepEqual(got.map((e) => [e.seq, e.tick, e.name, e.table]), [[1, 11, "Trick", "cards.Trick"], [2, 12, "Say", "cards.Say"], [3, 13, "Say", "cards.Say"]]);
  assert.deepEqual(got[0]!.values, { winner_seat: 3, cards: new Uint8Array([1, 2]) });
  assert.deepEqual(got[2]!.values, { text: "again" });
  await c.until("input", (m) => m.eventAck === 3 && m.ackTick === 3);

  // A client event: seq 1, sent at once, kept until event_seq covers it.
  assert.equal(room.sendEvent("PlayCard", { suit: "Hearts", rank: 12 }), 1);
  const e1 = await c.next("event");
  assert.equal(e1.seq, 1);
  const d1 = decodeEvent(schema.clientEvents!, e1.data);
  assert.deepEqual([d1.name, d1.values], ["PlayCard", { suit: 2, rank: 12 }]);
  assert.throws(() => room.sendEvent("Nope"), TypeError);
  assert.throws(() => room.sendEvent("Say", {}), TypeError); // text is required
  assert.equal(room.unacknowledgedEvents, 1);

  // The connection drops before the match applied it: the client resumes
  // (same seat, the newest tick as last_tick) and sends it again.
  c.ws.terminate();
  const c2 = await n.conn(1);
  const hello = await c2.next("hello");
  assert.equal(hello.resumeToken, "r1");
  assert.equal(hello.matchId, "m1");
  assert.equal(hello.lastTick, 3);
  assert.equal(hello.eventAck, 3); // the newest server event held
  assert.equal(hello.join!.length, 0);
  c2.send(welcome({ resumeToken: "r2", serverTick: 4, eventSeq: 0 }));
  const again = await c2.next("event");
  assert.equal(again.seq, 1);
  assert.deepEqual(again.data, e1.data);
  assert.equal(room.state, "playing");
  // Same node, same seat, no rollback: the held worlds stay (ack 3).
  await c2.until("input", (m) => m.ackTick === 3 && m.eventAck === 3);
  c2.send(snapshot(5, { baselineTick: 3, eventSeq: 1, events: [ev(3, "Say", { text: "again" })] }));
  await waitFor("event 1 applied", () => room.unacknowledgedEvents === 0);
  assert.equal(got.length, 3);
  assert.equal(room.sendEvent("Bid", { amount: 20, pass: false }), 2);
  const e2 = await c2.next("event");
  assert.equal(e2.seq, 2);
  assert.deepEqual(decodeEvent(schema.clientEvents!, e2.data).values, { amount: 20, pass: false });
});

test("events and the world that arrive before their listeners are held for the first ones", async (t) => {
  const vec = JSON.parse(readText("schema/gamedelta/testdata/vectors/cards.json")) as VecFile;
  const full = vec.steps.find((s) => s.result === "applied" && s.baseline === 0)!;
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });
  const joining = client.joinOrCreate("cards", {}, { schema: bfbs });
  const c = await n.conn(0);
  await c.next("hello");
  const se = schema.serverEvents!;
  const ev = (seq: number, text: string) => ({ seq, tick: seq, data: encodeEvent(se, "Say", { text }) });
  // The Welcome and the first snapshot, with the seat's first events, at once.
  c.send(welcome({ playerId: vec.player }));
  c.send(snapshot(full.tick, { state: fromHex(full.data), events: [ev(1, "sits at seat 2"), ev(2, "hi")] }));
  const room = await joining;
  t.after(() => room.close());
  // Registered only after the snapshot was applied: nothing was there to hear it.
  await waitFor("the first snapshot applied", () => room.tick === full.tick);
  await c.until("input", (m) => m.eventAck === 2);

  const log: string[] = [];
  const worlds: GameWorld[] = [];
  room.onState((w, tick) => {
    log.push(`state ${tick}`);
    worlds.push(w);
  });
  const offFirst = room.onEvent((e) => {
    log.push(`event ${e.seq} ${String(e.values.text)}`);
    if (e.seq === 1) offFirst(); // the remover exists: the held events come after onEvent returned
  });
  const got: GameEvent[] = [];
  room.onEvent((e) => got.push(e));
  assert.equal(log.length, 0, "held things are handed over in a microtask, not inside onEvent/onState");
  await waitFor("the held events and world", () => log.length >= 2 && got.length >= 2);
  assert.deepEqual(log, ["event 1 sits at seat 2", `state ${full.tick}`]);
  assert.deepEqual(got.map((e) => [e.seq, e.values.text]), [[1, "sits at seat 2"], [2, "hi"]]);
  assert.deepEqual(dump(worlds[0]!.raw), full.world);

  // Later events go to the listeners live, once; a listener registered now gets nothing held.
  const late: GameEvent[] = [];
  room.onEvent((e) => late.push(e));
  c.send(snapshot(full.tick + 1, { baselineTick: full.tick, events: [ev(2, "hi"), ev(3, "later")] }));
  await waitFor("event 3", () => got.length >= 3);
  assert.deepEqual(got.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual(late.map((e) => e.seq), [3]);
  assert.equal(log.filter((l) => l.startsWith("event")).length, 1);
});

test("held events: the newest MaxHeldEvents, in seq order; held worlds: only the newest", async (t) => {
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });
  const joining = client.joinOrCreate("cards", {}, { schema: bfbs });
  const c = await n.conn(0);
  await c.next("hello");
  c.send(welcome());
  const room = await joining;
  t.after(() => room.close());
  const se = schema.serverEvents!;
  const total = MaxHeldEvents + 44;
  for (let tick = 2, seq = 1; seq <= total; tick++) {
    const events = [];
    for (let i = 0; i < 50 && seq <= total; i++, seq++) events.push({ seq, tick, data: encodeEvent(se, "Say", { text: `e${seq}` }) });
    c.send(snapshot(tick, { events }));
  }
  await c.until("input", (m) => m.eventAck === total);
  const newest = room.tick;
  assert.ok(newest > 2);
  const got: GameEvent[] = [];
  const ticks: number[] = [];
  room.onEvent((e) => got.push(e));
  room.onState((_, tick) => ticks.push(tick));
  await waitFor("held events", () => got.length >= MaxHeldEvents && ticks.length >= 1);
  assert.equal(got.length, MaxHeldEvents);
  assert.deepEqual(got.map((e) => e.seq), Array.from({ length: MaxHeldEvents }, (_, i) => total - MaxHeldEvents + 1 + i));
  assert.equal(got[0]!.values.text, `e${total - MaxHeldEvents + 1}`);
  assert.deepEqual(ticks, [newest]);
});

test("redirect, then failover to the other URL; a new node's world starts over", async (t) => {
  const a = await node(t);
  const b = await new FakeNode({ cards: bfbs }).start();
  let bStopped = false;
  t.after(() => (bStopped ? undefined : b.stop()));
  const client = connect([a.url, b.url], { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });
  const joining = client.joinOrCreate("cards", { name: "bo" });
  const a0 = await a.conn(0);
  await a0.next("hello");
  a0.send({ kind: "redirect", url: b.url.replace("ws://", "http://"), matchId: "m9" });
  a0.ws.close(4011, "redirect");
  const b0 = await b.conn(0);
  const hb = await b0.next("hello");
  assert.equal(hb.matchId, "m9");
  assert.equal(hb.resumeToken, "");
  assert.deepEqual(decodeTable(schema.join!, hb.join!).name, "bo");
  b0.send(welcome({ matchId: "m9", nodeId: "b", resumeToken: "rb", serverTick: 10 }));
  const room = await joining;
  t.after(() => room.close());
  assert.equal(room.nodeId, "b");
  b0.send(snapshot(10));
  await b0.until("input", (m) => m.ackTick === 10);

  // b dies: the client tries b again, then a, which took the match over
  // from a checkpoint at tick 5.
  const errors: TicksyncError[] = [];
  room.onError((e) => errors.push(e));
  bStopped = true;
  await b.stop();
  const a1 = await a.conn(1, 10_000);
  const ha = await a1.next("hello");
  assert.equal(ha.resumeToken, "rb");
  assert.equal(ha.matchId, "m9");
  assert.equal(ha.lastTick, 10);
  a1.send(welcome({ matchId: "m9", nodeId: "a", resumeToken: "ra", serverTick: 5 }));
  await a1.until("input", (m) => m.ackTick === 0); // a full snapshot, please
  a1.send(snapshot(6));
  await a1.until("input", (m) => m.ackTick === 6);
  assert.equal(room.nodeId, "a");
  assert.ok(errors.length > 0 && errors.every((e) => !e.fatal));
});

test("stall: no snapshot for the stall window resumes the seat", async (t) => {
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 300 });
  const joining = client.joinOrCreate("cards");
  const c = await n.conn(0);
  await c.next("hello");
  c.send(welcome());
  const room = await joining;
  t.after(() => room.close());
  c.send(snapshot(1));
  const c2 = await n.conn(1);
  const h = await c2.next("hello");
  assert.equal(h.resumeToken, "r1");
  assert.equal(h.lastTick, 1);
});

test("errors: refused joins, schema mismatch, and a retry after unavailable", async (t) => {
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });

  const refused = client.joinOrCreate("cards", { seat_pref: 1 });
  const c0 = await n.conn(0);
  await c0.next("hello");
  c0.error(ErrorCode.JoinRefused, "seat 1 is taken");
  await assert.rejects(refused, (e: unknown) => e instanceof TicksyncError && e.code === 15 && e.fatal && /seat 1 is taken/.test(e.message));

  const mismatch = client.joinOrCreate("cards");
  const c1 = await n.conn(1);
  await c1.next("hello");
  c1.error(ErrorCode.SchemaMismatch, "schema mismatch: the match speaks cards 00");
  await assert.rejects(mismatch, (e: unknown) => e instanceof TicksyncError && e.code === 16 && e.fatal);

  // A node that welcomes with another hash: the client refuses itself.
  const other = client.joinOrCreate("cards");
  const c2 = await n.conn(2);
  await c2.next("hello");
  c2.send(welcome({ schemaHash: "ab".repeat(32) }));
  await assert.rejects(other, (e: unknown) => e instanceof TicksyncError && e.code === 16);
  await c2.closed;

  // Unavailable is passing: the client tries again and is seated.
  const retried = client.joinOrCreate("cards");
  const c3 = await n.conn(3);
  await c3.next("hello");
  c3.error(ErrorCode.Unavailable, "unavailable");
  const c4 = await n.conn(4);
  await c4.next("hello");
  c4.send(welcome());
  const room = await retried;
  assert.equal(room.state, "playing");
  room.close();
  assert.equal(room.state, "closed");
  await c4.next("leave");
  assert.equal((await c4.closed).code, 1000);
  assert.throws(() => room.sendEvent("Bid", { amount: 1 }), TicksyncError);

  // Kicked closes the room for good.
  const kicked = await (async () => {
    const p = client.joinOrCreate("cards");
    const c = await n.conn(5);
    await c.next("hello");
    c.send(welcome());
    const r = await p;
    const errs: TicksyncError[] = [];
    r.onError((e) => errs.push(e));
    c.error(ErrorCode.Kicked, "kicked");
    await waitFor("kicked", () => r.state === "closed");
    return errs;
  })();
  assert.equal(last(kicked).code, ErrorCode.Kicked);
  assert.ok(last(kicked).fatal);
  assert.equal(n.conns.length, 6);
});

test("join by match id alone: the schema is fetched after the Welcome names the game", async (t) => {
  const n = await node(t);
  const client = connect(n.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0 });
  const joining = client.join("m5");
  const c = await n.conn(0);
  const h = await c.next("hello");
  assert.equal(h.matchId, "m5");
  assert.equal(h.schemaHash, "");
  assert.equal(h.game, "");
  c.send(welcome({ matchId: "m5" }));
  const room = await joining;
  t.after(() => room.close());
  assert.equal(room.game, "cards");
  assert.equal(room.schema.hash, schema.hash);
  await assert.rejects(client.joinOrCreate("chess"), (e: unknown) => e instanceof TicksyncError && /404/.test(e.message));
});

test("discoverNodes: the node list from GET /v1/cluster; a loss resumes through a listed node", async (t) => {
  const a = await node(t);
  const b = await new FakeNode({ cards: bfbs }).start();
  t.after(() => b.stop());
  a.cluster = JSON.stringify({ nodes: [{ id: "a", url: a.url }, { id: "b", url: b.url.replace("ws://", "http://") }] });
  const client = connect(a.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0, discoverNodes: true, pingIntervalMs: 50 });
  const joining = client.joinOrCreate("cards");
  const a0 = await a.conn(0);
  await a0.next("hello");
  a0.send(welcome({ nodeId: "a", serverTick: 3 }));
  const room = await joining;
  t.after(() => room.close());
  await waitFor("the node list", () => room.nodes.length === 2);
  assert.deepEqual(room.nodes, [a.url, b.url]);
  assert.equal(room.url, a.url);
  a0.send(snapshot(3));
  const input = await a0.until("input", (m) => m.ackTick === 3);
  a0.send({ ...snapshot(4, { baselineTick: 3 }), lastInputSeq: input.seq });
  await a0.until("input", (m) => m.ackTick === 4);
  const ping = await a0.next("ping");
  a0.send({ kind: "pong", clientTime: ping.clientTime, serverTimeMs: 0n });
  await waitFor("a ping figure", () => room.stats.pingMs > 0 || room.stats.lastInputSeq > 0);
  assert.equal(room.stats.snapshots, 2);
  assert.equal(room.stats.fullSnapshots, 1);
  assert.equal(room.stats.lastInputSeq, input.seq);
  assert.ok(room.stats.bytesReceived > 0 && room.stats.welcomes === 1 && room.stats.reconnects === 0);

  // a drops the connection and refuses the next ones: the client goes on to b, which it knows only from the list.
  a.cluster = undefined;
  a0.ws.terminate();
  const b0 = await b.conn(0, 10_000);
  const hb = await b0.next("hello");
  assert.equal(hb.resumeToken, "r1");
  b0.send(welcome({ nodeId: "b", serverTick: 2 }));
  await b0.until("input", (m) => m.ackTick === 0);
  assert.equal(room.url, b.url);
  assert.equal(room.stats.welcomes, 2);
  assert.ok(room.stats.reconnects >= 1 && room.stats.lastClose === 1006);
  // b has no list: the one held stays.
  await waitFor("a fetch from b", () => b.clusterGets > 0);
  assert.deepEqual(room.nodes, [a.url, b.url]);
});

test("stall: counted, and the stalled node is tried last", async (t) => {
  const a = await node(t);
  const b = await new FakeNode({ cards: bfbs }).start();
  t.after(() => b.stop());
  const client = connect([b.url, a.url], { WebSocket: NodeWebSocket, stallTimeoutMs: 300 });
  const joining = client.joinOrCreate("cards");
  const b0 = await b.conn(0);
  await b0.next("hello");
  b0.send({ kind: "redirect", url: a.url, matchId: "m1" });
  const a0 = await a.conn(0);
  await a0.next("hello");
  a0.send(welcome());
  const room = await joining;
  t.after(() => room.close());
  assert.equal(room.stats.redirects, 1);
  a0.send(snapshot(1));
  const b1 = await b.conn(1, 5000);
  assert.equal((await b1.next("hello")).resumeToken, "r1");
  assert.equal(room.stats.stalls, 1);
  assert.equal(a.conns.length, 1, "the stalled node is tried after the others");
});

test("clusterURL and parseNodes", () => {
  assert.equal(clusterURL("ws://h:1/ws"), "http://h:1/v1/cluster");
  assert.equal(clusterURL("wss://h/game/ws?x=1"), "https://h/game/v1/cluster");
  assert.deepEqual(parseNodes('{"nodes":[{"id":"n1","url":"ws://a/ws"},{"id":"n2","url":"https://b/ws"},{"url":"ws://a/ws"}]}'), ["ws://a/ws", "wss://b/ws"]);
  for (const bad of ["", "null", "{}", '{"nodes":3}', '{"nodes":[{"id":"x"}]}', '{"nodes":[{"url":"ftp://a"}]}', '{"nodes":[{"url":"::"}]}']) {
    assert.deepEqual(parseNodes(bad), [], bad);
  }
});

test("redirects to a dead node while the cluster moves its match are no redirect loop", async (t) => {
  const a = await node(t);
  const dead = await new FakeNode({ cards: bfbs }).start();
  await dead.stop(); // its port refuses connections now
  const client = connect(a.url, { WebSocket: NodeWebSocket, stallTimeoutMs: 0, maxBackoffMs: 20 });
  const joining = client.joinOrCreate("cards");
  const c0 = await a.conn(0);
  await c0.next("hello");
  c0.send(welcome());
  const room = await joining;
  t.after(() => room.close());
  const errors: TicksyncError[] = [];
  room.onError((e) => errors.push(e));
  // The connection drops; every resume on a is sent to the dead node, 7
  // times (over the 5 redirects in a row allowed), then a seats it again.
  c0.ws.terminate();
  for (let i = 1; i <= 7; i++) {
    const c = await a.conn(i, 10_000);
    assert.equal((await c.next("hello")).resumeToken, "r1");
    c.send({ kind: "redirect", url: dead.url, matchId: "m1" });
  }
  const c = await a.conn(8, 10_000);
  await c.next("hello");
  c.send(welcome());
  await waitFor("playing again", () => room.state === "playing" && room.stats.welcomes === 2);
  assert.equal(room.stats.redirects, 7);
  assert.ok(room.stats.reconnects >= 8);
  assert.deepEqual(errors.filter((e) => e.message.includes("too many redirects")).map((e) => e.message), []);
  assert.ok(errors.every((e) => !e.fatal));
});
