// Tests of the client's codec, run by node's test runner over the bundled
// modules (npm test, or go test ./game/arena/web which runs npm test's steps).
//
// delta_vectors.json is written by the Go test (TestDeltaVectors, with
// the real schema.Encoder and schema.Diff), so these tests check the
// TypeScript reader against the Go writer byte for byte.
// client_messages.json is written here (TICKSYNC_UPDATE=1) and read by the Go
// test TestBrowserMessagesVerify, which runs them through schema's verifier.

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";

import * as flatbuffers from "flatbuffers";

import { ClientBody } from "../../../../schema/ts/fb/client-body";
import { ClientMessage } from "../../../../schema/ts/fb/client-message";
import { Input as FBInput } from "../../../../schema/ts/fb/input";
import { applyDelta, DeltaError, type Entity, MaskAngle, MaskHP, MaskOwner, MaskVX, MaskX, readUvarint, unzigzag, WorldRing } from "../src/delta";
import { decodeServerMessage, Encoder, ProtocolError } from "../src/protocol";

const testdata = resolve(process.env.TICKSYNC_TESTDATA ?? "testdata");

function ent(id: number, over: Partial<Entity> = {}): Entity {
  return { id, owner: 0, x: 1600, y: 3200, vx: 0, vy: 0, angle: 0, kind: 2, hp: 100, ...over };
}

function uvarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function zigzag(v: number): number[] {
  return uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
}

function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

describe("applyDelta", () => {
  test("full snapshot is the spawned entities", () => {
    const got = applyDelta([], 0, [ent(1), ent(3)], new Uint8Array(), []);
    assert.deepEqual(
      got.map((e) => e.id),
      [1, 3],
    );
  });

  test("unchanged entities follow their velocity", () => {
    const base = [ent(1, { vx: 5, vy: -3 }), ent(2)];
    const got = applyDelta(base, 4, [], new Uint8Array(), []);
    assert.deepEqual(got, [ent(1, { x: 1620, y: 3188, vx: 5, vy: -3 }), ent(2)]);
    // The baseline is not modified.
    assert.deepEqual(base[0], ent(1, { vx: 5, vy: -3 }));
  });

  test("every field of a changed entity (gap form)", () => {
    const base = [ent(3), ent(7, { vx: 10, angle: 65530, owner: 3 })];
    const changes = [
      2, // H: first changed index 1, plus one
      0xff, // mask: every field
      ...zigzag(-7), // x residual against 1600+10*2
      ...zigzag(300), // y residual
      ...zigzag(-25), // vx diff
      ...zigzag(4), // vy diff
      ...zigzag(12), // angle: wraps 65530 -> 6
      55, // hp
      9, // kind
      ...uvarint(300), // owner
    ];
    const got = applyDelta(base, 2, [], new Uint8Array(changes), []);
    assert.deepEqual(got, [ent(3), { id: 7, owner: 300, x: 1613, y: 3500, vx: -15, vy: 4, angle: 6, kind: 9, hp: 55 }]);
  });

  test("gaps, removed and spawned", () => {
    const base = Array.from({ length: 12 }, (_, i) => ent(10 + i * 2));
    // Remove ids 10 and 30: 10 common entities remain (ids 12..28, 32).
    // Changed: common[2] (id 16) and common[9] (id 32): H = 3, gap 6.
    const changes = [3, MaskHP, 1, 6, MaskHP, 2];
    const got = applyDelta(base, 1, [ent(13), ent(99)], new Uint8Array(changes), [10, 30]);
    assert.deepEqual(
      got.map((e) => e.id),
      [12, 13, 14, 16, 18, 20, 22, 24, 26, 28, 32, 99],
    );
    assert.equal(got.find((e) => e.id === 16)!.hp, 1);
    assert.equal(got.find((e) => e.id === 32)!.hp, 2);
    assert.equal(got.find((e) => e.id === 18)!.hp, 100);
  });

  test("bitmap form", () => {
    const base = Array.from({ length: 10 }, (_, i) => ent(i + 1));
    const changes = [0, 0b1000_0001, 0b10, MaskHP, 1, MaskHP, 2, MaskHP, 3];
    const got = applyDelta(base, 1, [], new Uint8Array(changes), []);
    assert.deepEqual(
      got.map((e) => e.hp),
      [1, 100, 100, 100, 100, 100, 100, 2, 100, 3],
    );
  });

  test("varints: non-minimal accepted, 10 bytes at most", () => {
    assert.deepEqual(readUvarint(new Uint8Array([0x80, 0x80, 0x00]), 0), [0, 3]);
    assert.deepEqual(readUvarint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 0), [2 ** 32 - 1, 5]);
    const max = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual(readUvarint(max, 0), [Infinity, 10]);
    max[9] = 2;
    assert.deepEqual(readUvarint(max, 0), [0, 0]);
    assert.deepEqual(readUvarint(new Uint8Array([0x80]), 0), [0, 0]);
    assert.equal(unzigzag(0), 0);
    assert.equal(unzigzag(1), -1);
    assert.equal(unzigzag(2), 1);
    assert.equal(unzigzag(2 ** 50 - 1), -(2 ** 49));
  });

  const bad: [string, Entity[], number[], number[], Entity[]][] = [
    ["more removed than base", [ent(1)], [], [1, 2], []],
    ["removed id not in baseline", [ent(1)], [], [2], []],
    ["removed twice", [ent(1), ent(2)], [], [1, 1], []],
    ["removed unsorted", [ent(1), ent(2)], [], [2, 1], []],
    ["spawned id in baseline", [ent(1)], [], [], [ent(1)]],
    ["spawned id in baseline, even removed", [ent(1)], [], [1], [ent(1)]],
    ["spawned unsorted", [], [], [], [ent(2), ent(1)]],
    ["first index past n", [ent(1)], [2, MaskHP, 1], [], []],
    ["gap past n", [ent(1), ent(2)], [1, MaskHP, 1, 1, MaskHP, 2], [], []],
    ["record missing", [ent(1)], [1], [], []],
    ["empty mask", [ent(1)], [1, 0], [], []],
    ["truncated value", [ent(1)], [1, MaskX], [], []],
    ["truncated hp", [ent(1)], [1, MaskHP], [], []],
    ["short bitmap", Array.from({ length: 9 }, (_, i) => ent(i + 1)), [0, 1], [], []],
    ["bitmap padding bits", [ent(1)], [0, 0b10], [], []],
    ["bitmap bit without record", [ent(1)], [0, 1], [], []],
    ["trailing bytes", [ent(1)], [1, MaskHP, 1, 0], [], []],
    ["changes without common entities", [], [1], [], []],
    ["residual too large", [ent(1)], [1, MaskX, ...uvarint(2 ** 50 + 2)], [], []],
    ["position out of int32", [ent(1)], [1, MaskX, ...zigzag(2 ** 31)], [], []],
    ["vx out of int16", [ent(1, { vx: 32767 })], [1, MaskVX, ...zigzag(1)], [], []],
    ["angle change out of int16", [ent(1)], [1, MaskAngle, ...zigzag(32768)], [], []],
    ["owner over uint32", [ent(1)], [1, MaskOwner, ...uvarint(2 ** 32)], [], []],
    ["overlong varint", [ent(1)], [1, MaskX, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], [], []],
  ];
  for (const [name, base, changes, removed, spawned] of bad) {
    test(`refuses ${name}`, () => {
      assert.throws(() => applyDelta(base, 1, spawned, new Uint8Array(changes), removed), DeltaError);
    });
  }
  test("accepts a bitmap of no entities", () => {
    // DELTA.md: non-canonical but unambiguous; schema.Apply accepts it too.
    assert.deepEqual(applyDelta([], 1, [], new Uint8Array([0]), []), []);
  });
});

describe("WorldRing", () => {
  test("keeps the newest 64 ticks", () => {
    const r = new WorldRing(64);
    for (let t = 1; t <= 100; t++) r.put({ tick: t, entities: [] });
    assert.equal(r.get(36), undefined);
    assert.equal(r.get(37)?.tick, 37);
    assert.equal(r.newest()?.tick, 100);
    r.put({ tick: 20, entities: [] }); // older than the ring's reach
    assert.equal(r.get(84)?.tick, 84);
    assert.equal(r.get(0), undefined);
  });
});

describe("protocol", () => {
  test("Input round-trips through the generated reader", () => {
    const enc = new Encoder();
    const bytes = enc.input({ seq: 9, targetTick: 101, ackTick: 100, moveX: 250, moveY: -100, aim: 70000, buttons: 1 });
    const bb = new flatbuffers.ByteBuffer(bytes);
    assert.ok(ClientMessage.bufferHasIdentifier(bb));
    const m = ClientMessage.getRootAsClientMessage(bb);
    assert.equal(m.bodyType(), ClientBody.Input);
    const i = m.body(new FBInput()) as FBInput;
    assert.deepEqual(
      [i.seq(), i.targetTick(), i.ackTick(), i.moveX(), i.moveY(), i.aim(), i.buttons()],
      [9, 101, 100, 100, -100, 70000 & 0xffff, 1],
    );
  });

  test("refuses frames that are not TSY1 messages", () => {
    for (const b of [new Uint8Array(3), new Uint8Array(64), hex("0c00000054535932000000000000")]) {
      assert.throws(() => decodeServerMessage(b), ProtocolError);
    }
  });

  test("writes client messages for the Go verifier", (t) => {
    const enc = new Encoder();
    const msgs = {
      hello: enc.hello({ name: "browser", resumeToken: "rt-123", lastTick: 77, matchId: "m1" }),
      hello_empty: enc.hello({}),
      input: enc.input({ seq: 1, targetTick: 2, ackTick: 1, moveX: -100, moveY: 100, aim: 16384, buttons: 0 }),
      input_zero: enc.input({ seq: 2, targetTick: 0, ackTick: 0, moveX: 0, moveY: 0, aim: 0, buttons: 0 }),
      ping: enc.ping(123456789n),
      leave: enc.leave(),
    };
    const file = join(testdata, "client_messages.json");
    const json = JSON.stringify(Object.fromEntries(Object.entries(msgs).map(([k, v]) => [k, Buffer.from(v).toString("hex")])), null, 2) + "\n";
    if (process.env.TICKSYNC_UPDATE === "1") writeFileSync(file, json);
    if (!existsSync(file)) return t.skip("testdata/client_messages.json missing: run with TICKSYNC_UPDATE=1");
    assert.equal(readFileSync(file, "utf8"), json, "client messages changed: rerun with TICKSYNC_UPDATE=1");
  });
});

type Row = [number, number, number, number, number, number, number, number, number];

interface VectorFile {
  vectors: { name: string; base: Row[]; message: string; want: Row[] }[];
  corrupt: { name: string; from: number; message: string; want?: Row[]; error?: string }[];
}

function world(rows: Row[]): Entity[] {
  return rows.map(([id, owner, x, y, vx, vy, angle, kind, hp]) => ({ id, owner, x, y, vx, vy, angle, kind, hp }));
}

function applyMessage(base: Entity[], message: string): Entity[] {
  const msg = decodeServerMessage(hex(message));
  assert.equal(msg.kind, "snapshot");
  if (msg.kind !== "snapshot") throw new Error("not a snapshot");
  assert.equal(msg.lastInputSeq, 42);
  const full = msg.baselineTick === 0;
  const dt = full ? 0 : (msg.tick - msg.baselineTick) >>> 0;
  return applyDelta(full ? [] : base, dt, msg.spawned, msg.changes, msg.removed);
}

describe("Go delta vectors", () => {
  const file = join(testdata, "delta_vectors.json");
  if (!existsSync(file)) {
    test("delta_vectors.json", (t) => t.skip("missing: run go test ./game/arena/web -run TestDeltaVectors -update"));
    return;
  }
  const f = JSON.parse(readFileSync(file, "utf8")) as VectorFile;
  test("cover both presence forms and a full snapshot", () => {
    const heads: string[] = f.vectors.map((v) => {
      const m = decodeServerMessage(hex(v.message));
      return m.kind === "snapshot" ? (m.baselineTick === 0 ? "full" : m.changes.length === 0 ? "none" : m.changes[0] === 0 ? "bitmap" : "gaps") : "?";
    });
    for (const want of ["full", "none", "bitmap", "gaps"]) assert.ok(heads.includes(want), `no ${want} vector`);
  });
  for (const v of f.vectors) {
    test(v.name, () => {
      assert.deepEqual(applyMessage(world(v.base), v.message), world(v.want));
    });
  }
  for (const c of f.corrupt) {
    test(`corrupt: ${c.name}`, () => {
      const base = world(f.vectors[c.from]!.base);
      if (c.error) {
        assert.throws(() => applyMessage(base, c.message), DeltaError, `Go refused: ${c.error}`);
      } else {
        assert.deepEqual(applyMessage(base, c.message), world(c.want!));
      }
    });
  }
});
