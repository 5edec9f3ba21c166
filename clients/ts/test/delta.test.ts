import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compileLayout, Decoder, DeltaError, layoutFromSchema, loadSchema, Receiver, type Layout, type LayoutField, type World,
} from "../src/index.js";
import { fromHex, read, readText } from "./paths.js";

interface VecEntity { id: number; kind: number; owner: number; values: string[] }

function dump(w: World): VecEntity[] {
  return w.entities.map((e) => ({
    id: e.id, kind: e.kind, owner: e.owner,
    values: e.raw.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x.toString())),
  }));
}

interface VecFile {
  name: string;
  schema?: string;
  layout: Layout;
  player: number;
  history: number;
  steps: {
    tick: number;
    baseline: number;
    data: string;
    result: "applied" | "stale" | "nobaseline" | "bad";
    newest: number;
    world?: VecEntity[];
    mutants?: { data: string; ok: boolean; world?: VecEntity[] }[];
  }[];
}

const spec: Layout = {
  kinds: [{
    name: "ship",
    fields: [
      { name: "x", type: "int", bits: 32, signed: true, velocity: "vx" },
      { name: "y", type: "int", bits: 32, signed: true, velocity: "vy" },
      { name: "vx", type: "int", bits: 16, signed: true },
      { name: "vy", type: "int", bits: 16, signed: true },
      { name: "angle", type: "int", bits: 16, wrap: true },
      { name: "hp", type: "int", bits: 8 },
      { name: "secret", type: "int", bits: 16, ownerOnly: true },
    ],
  }],
};

test("DELTA.md worked example", () => {
  const codec = compileLayout(spec);
  const rx = new Receiver(codec, { player: 7 });
  // Tick 100 in full: ship 3 (owner 7) and ship 5 (owner 2).
  // 05: F = 2·H+1, H = 2: R = 0, S follows; S = 2.
  const z = (v: number) => (v >= 0 ? 2 * v : -2 * v - 1);
  const uv = (v: number): number[] => { const o: number[] = []; while (v >= 0x80) { o.push((v & 0x7f) | 0x80); v >>>= 7; } o.push(v); return o; };
  const full = [
    0x03, 0x02, // F = 2·1+1 (H = 1: no removed, spawned follow), S = 2
    0x03, 0x00, 0x07, ...[100, -50, 4, 0].flatMap((v) => uv(z(v))), ...uv(65530 * 2), ...uv(200), ...uv(18),
    0x01, 0x00, 0x02, 0, 0, 0, 0, 0, ...uv(100),
  ];
  const w0 = rx.apply(100, 0, new Uint8Array(full));
  assert.equal(w0.size, 2);
  assert.equal(w0.get(3)!.value("secret"), 9);
  assert.equal(w0.get(5)!.value("secret"), 0);
  const w = rx.apply(102, 100, new Uint8Array([0x07, 0x01, 0x05, 0x09, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x14]));
  assert.deepEqual(w.entities.map((e) => e.id), [3, 9]);
  assert.deepEqual(w.get(3)!.values(), { x: 108, y: -50, vx: 4, vy: 0, angle: 4, hp: 100, secret: 9 });
  assert.deepEqual(w.get(9)!.values(), { x: -1, y: 2, vx: 0, vy: 0, angle: 0, hp: 0, secret: 0 });
  assert.equal(w.get(9)!.kindName, "ship");
  assert.equal(rx.newest, 102);
  // An empty snapshot: everything as predicted (x moves by vx·dt).
  const w2 = rx.apply(105, 102, new Uint8Array(0));
  assert.equal(w2.get(3)!.value("x"), 108 + 4 * 3);
  assert.throws(() => rx.apply(104, 102, new Uint8Array(0)), (e: unknown) => e instanceof DeltaError && e.code === "stale");
  assert.throws(() => rx.apply(106, 99, new Uint8Array(0)), (e: unknown) => e instanceof DeltaError && e.code === "nobaseline");
  assert.throws(() => rx.apply(106, 105, new Uint8Array([0x80])), (e: unknown) => e instanceof DeltaError && e.code === "bad");
  assert.equal(rx.newest, 105);
});

/** normalize makes a layout comparable: defaults filled, bounds as strings. */
function normalize(l: Layout): unknown {
  return l.kinds.map((k) => ({
    name: k.name,
    fields: k.fields.map((f: LayoutField) => ({
      name: f.name, type: f.type, bits: f.type === "int" ? f.bits || 64 : 0, signed: !!f.signed, wrap: !!f.wrap,
      min: String(f.min ?? ""), max: String(f.max ?? ""), velocity: f.velocity ?? "", ownerOnly: !!f.ownerOnly,
      maxLen: f.type === "bytes" ? f.maxLen || 255 : 0,
    })),
  }));
}

for (const name of ["spec", "arena", "cards"]) {
  const v = JSON.parse(readText(`schema/gamedelta/testdata/vectors/${name}.json`)) as VecFile;

  if (v.schema) {
    test(`${name}: layoutFromSchema(${v.schema}) is the vectors' layout`, () => {
      const s = loadSchema(read(`schema/gameschema/testdata/${v.schema}`));
      assert.deepEqual(normalize(layoutFromSchema(s)), normalize(v.layout));
    });
  }

  test(`${name}: ${v.steps.length} snapshots decode to Go's worlds`, () => {
    const codec = compileLayout(v.layout);
    const rx = new Receiver(codec, { player: v.player, history: v.history });
    const dec = new Decoder(codec, v.player);
    const counts: Record<string, number> = {};
    let accepted = 0, refused = 0;
    v.steps.forEach((st, i) => {
      const where = `step ${i} (tick ${st.tick} against ${st.baseline})`;
      const base = st.baseline === 0 ? [] : rx.world(st.baseline)?.entities;
      if (st.mutants) assert.ok(base, `${where}: mutants against a baseline not held`);
      st.mutants?.forEach((m, j) => {
        let got: World | undefined;
        try {
          got = dec.apply(base!, st.tick - st.baseline, fromHex(m.data));
        } catch (e) {
          if (!(e instanceof DeltaError) || e.code !== "bad") throw e;
        }
        assert.equal(got !== undefined, m.ok, `${where} mutant ${j} ${m.data}: accepted`);
        if (got) {
          assert.deepEqual(dump(got), m.world ?? [], `${where} mutant ${j}`);
          accepted++;
        } else refused++;
      });
      let result: string;
      let world;
      try {
        world = rx.apply(st.tick, st.baseline, fromHex(st.data));
        result = "applied";
      } catch (e) {
        if (!(e instanceof DeltaError)) throw e;
        result = e.code;
      }
      assert.equal(result, st.result, where);
      assert.equal(rx.newest, st.newest, where);
      counts[result] = (counts[result] ?? 0) + 1;
      if (!world) return;
      assert.deepEqual(dump(world), st.world ?? [], where);
      // The typed accessors agree with the raw values.
      for (const e of world.entities) {
        codec.kinds[e.kind]!.fields.forEach((f, j) => {
          const val = e.value(f.name);
          if (f.bytes) assert.ok(val instanceof Uint8Array);
          else {
            assert.equal(typeof val, f.asNumber ? "number" : "bigint", `${f.name}`);
            assert.equal(e.int(j), e.raw[j]);
          }
        });
        assert.equal(world.get(e.id), e);
      }
    });
    for (const r of ["applied", "stale", "nobaseline", "bad"]) assert.ok((counts[r] ?? 0) > 0, `no ${r} step`);
    assert.ok(accepted > 0 && refused > 0, `mutants: ${accepted} accepted, ${refused} refused`);
    console.log(`${name}: steps ${JSON.stringify(counts)}; mutants ${accepted} accepted, ${refused} refused`);
  });
}

test("typed world API on the cards layout", () => {
  const s = loadSchema(read("schema/gameschema/testdata/cards.bfbs"));
  const codec = compileLayout(layoutFromSchema(s));
  assert.equal(codec.kindIndex("cards.Board"), 1);
  const board = codec.kinds[1]!;
  const clock = board.fields[board.fieldIndex("clock")]!;
  assert.deepEqual([clock.min, clock.max, clock.asNumber], [0n, 7200n, true]);
  const pot = board.fields[board.fieldIndex("pot")]!;
  assert.equal(pot.asNumber, false); // uint64: bigint
  const player = codec.kinds[0]!;
  assert.equal(player.fields[player.fieldIndex("pointer.x")]!.vel, player.fieldIndex("pointer_vel.x"));
  assert.equal(player.fields[player.fieldIndex("hand")]!.ownerOnly, true);
});

test("a wrapping field predicted past its end wraps; 64-bit values stay exact", () => {
  const codec = compileLayout({
    kinds: [{
      name: "big",
      fields: [
        { name: "a", type: "int", signed: true, velocity: "da" },
        { name: "da", type: "int", signed: true },
        { name: "turn", type: "int", bits: 12, signed: true, wrap: true, velocity: "spin" },
        { name: "spin", type: "int", bits: 8, signed: true },
      ],
    }],
  });
  const rx = new Receiver(codec, { player: 0, history: 2 });
  // Spawn id 1 kind 0 owner 0: a = 2^62, da = 2^62, turn = 2047, spin = 3.
  const big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]; // zigzag(2^62) = 2^63
  const w = rx.apply(1, 0, new Uint8Array([0x03, 0x01, 0x01, 0x00, 0x00, ...big, ...big, 0xfe, 0x1f, 0x06]));
  assert.equal(w.get(1)!.value("a"), 1n << 62n);
  assert.equal(w.get(1)!.value("turn"), 2047);
  const w2 = rx.apply(3, 1, new Uint8Array(0));
  // a + da·2 wraps mod 2^64 to 2^62 + 2^63 = -2^62; turn 2047 + 6 wraps to -2043.
  assert.equal(w2.get(1)!.value("a"), -(1n << 62n));
  assert.equal(w2.get(1)!.value("turn"), -2043);
  assert.equal(typeof w2.get(1)!.value("a"), "bigint");
  assert.throws(() => rx.apply(4, 1, new Uint8Array(0)), (e: unknown) => e instanceof DeltaError && e.code === "nobaseline");
});
