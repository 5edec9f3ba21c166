// The envelope's messages both ways, through files the Go half
// (messages_test.go beside package.json) keeps too:
//
//   go_messages.json  server messages Go built (Welcome and Snapshot with
//                     the generic fields), decoded here;
//   ts_messages.json  client messages from this encoder, verified and read
//                     by Go (TICKSYNC_UPDATE=1 npm test rewrites it).

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { decodeServer, encodeClient, encodeEvent, encodeTable, hex, loadSchema, type ServerMsg } from "../src/index.js";
import { fromHex, read, readText, repo } from "./paths.js";

const cards = loadSchema(read("schema/gameschema/testdata/cards.bfbs"));

function checkOrUpdate(path: string, v: unknown): void {
  const text = JSON.stringify(v, null, 1) + "\n";
  if (process.env.TICKSYNC_UPDATE) {
    writeFileSync(resolve(repo, path), text);
    return;
  }
  assert.equal(readText(path), text, `${path} is not what the encoder writes today: run TICKSYNC_UPDATE=1 npm test`);
}

// The values of the messages both sides write; messages_test.go holds the same.
const hash = cards.hash;
const wantServer: Record<string, ServerMsg> = {
  welcome: {
    kind: "welcome", sessionId: "s-1", resumeToken: "rt-1", playerId: 7, entityId: 9, tickRate: 30, serverTick: 100,
    nodeId: "n1", matchId: "m1", game: "cards", schemaHash: hash, eventSeq: 12,
  },
  snapshot: {
    kind: "snapshot", tick: 105, baselineTick: 100, lastInputSeq: 44, serverTimeMs: 1733356800123n,
    state: new Uint8Array([1, 2, 3, 4, 5]),
    events: [{ seq: 3, tick: 104, data: new Uint8Array([9, 8, 7]) }, { seq: 4, tick: 105, data: new Uint8Array([6]) }],
    eventSeq: 2,
  },
  redirect: { kind: "redirect", url: "ws://n2:7350/ws", matchId: "m1" },
  error: { kind: "error", code: 16, message: `schema mismatch: the match speaks cards ${hash}` },
  pong: { kind: "pong", clientTime: 111n, serverTimeMs: 222n },
};

test("interop: server messages Go built (go_messages.json)", () => {
  const msgs = JSON.parse(readText("clients/ts/testdata/go_messages.json")) as Record<string, string>;
  assert.deepEqual(Object.keys(msgs).sort(), Object.keys(wantServer).sort());
  for (const [name, want] of Object.entries(wantServer)) {
    assert.deepEqual(decodeServer(fromHex(msgs[name]!)), want, name);
  }
});

test("interop: client messages for Go's verifier (ts_messages.json)", () => {
  const msgs = {
    hello: encodeClient({
      kind: "hello", token: "tok", matchId: "m1", resumeToken: "rt-1", lastTick: 77, name: "ann", game: "cards",
      join: encodeTable(cards.join!, { name: "ann", seat_pref: 2 }), schemaHash: hash, eventAck: 6,
    }),
    input: encodeClient({
      kind: "input", seq: 5, targetTick: 101, ackTick: 100, eventAck: 3,
      data: encodeTable(cards.input, { pointer: { x: 1.5, y: -2, z: 0.25 }, hover: 7, grab: true }),
    }),
    event: encodeClient({ kind: "event", seq: 2, tick: 0, data: encodeEvent(cards.clientEvents!, "PlayCard", { suit: "Hearts", rank: 12 }) }),
    leave: encodeClient({ kind: "leave" }),
    ping: encodeClient({ kind: "ping", clientTime: 1733356800123456n }),
  };
  checkOrUpdate("clients/ts/testdata/ts_messages.json", Object.fromEntries(Object.entries(msgs).map(([k, v]) => [k, hex(v)])));
});
