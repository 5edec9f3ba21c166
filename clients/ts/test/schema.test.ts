import assert from "node:assert/strict";
import { test } from "node:test";
import { formatFloat, hex, loadSchema, SchemaError, sha256 } from "../src/index.js";
import { read, readText } from "./paths.js";

interface SchemaVector {
  file: string;
  name: string;
  hash: string;
  canonical: string;
  entities: { name: string; kind: number; fields: { name: string; type: string; predict: number; ownerOnly?: boolean; maxLen?: number }[] }[];
  input: { name: string; kind: number; fields: { name: string; type: string; predict: number }[] };
}

const vectors = JSON.parse(readText("schema/gameschema/testdata/vectors/schemas.json")) as SchemaVector[];

test("sha256 of known inputs", () => {
  assert.equal(hex(sha256(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(hex(sha256(new TextEncoder().encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const long = new TextEncoder().encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  assert.equal(hex(sha256(long)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
});

test("formatFloat matches Go's FormatFloat(x, 'g', -1, 64)", () => {
  const cases: [number, string][] = [
    [1e6, "1e+06"], [123456, "123456"], [1234567, "1.234567e+06"], [0.0001, "0.0001"], [0.00001, "1e-05"],
    [1e21, "1e+21"], [1e20, "1e+20"], [3600, "3600"], [0.5, "0.5"], [0.0625, "0.0625"], [1.5e-7, "1.5e-07"],
    [123.456, "123.456"], [3.4028234663852886e38, "3.4028234663852886e+38"], [-2.5, "-2.5"], [0, "0"],
    [0.01, "0.01"], [0.001, "0.001"], [-1, "-1"], [100000, "100000"],
  ];
  for (const [x, want] of cases) assert.equal(formatFloat(x), want, String(x));
});

for (const v of vectors) {
  test(`${v.file}: canonical text and hash as Go`, () => {
    const s = loadSchema(read(`schema/gameschema/testdata/${v.file}`));
    assert.equal(s.name, v.name);
    assert.equal(s.canonical, readText(`schema/gameschema/testdata/${v.file.replace(".bfbs", ".canonical")}`));
    assert.equal(s.canonical, v.canonical);
    assert.equal(s.hash, v.hash);
    assert.equal(hex(sha256(new TextEncoder().encode(v.canonical))), v.hash);
    const tables = (ts: typeof s.entities) =>
      ts.map((t) => ({
        name: t.name, kind: t.kind,
        fields: t.fields.map((f) => ({
          name: f.name, type: f.type, predict: f.predict,
          ...(f.ownerOnly ? { ownerOnly: true } : {}),
          ...(f.maxLen ? { maxLen: f.maxLen } : {}),
        })),
      }));
    assert.deepEqual(tables(s.entities), v.entities);
    assert.deepEqual(tables([s.input])[0], v.input);
  });
}

test("a schema without marked tables is refused", () => {
  assert.throws(() => loadSchema(read("schema/gameschema/testdata/reflection.bfbs")), SchemaError);
});

test("damaged schemas throw SchemaError, never another error", () => {
  const good = read("schema/gameschema/testdata/cards.bfbs");
  let refused = 0, loaded = 0;
  const check = (b: Uint8Array) => {
    try {
      loadSchema(b);
      loaded++;
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      refused++;
    }
  };
  for (let n = 0; n < good.length; n += 7) check(good.slice(0, n));
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
  for (let i = 0; i < 2000; i++) {
    const b = good.slice();
    for (let j = 0; j < 1 + (i % 4); j++) { const p = rnd() % b.length; b[p] = b[p]! ^ (1 << (rnd() % 8)); }
    check(b);
  }
  assert.ok(refused > 0, "nothing refused");
  // A flipped bit in a name or documentation loads; both outcomes happen.
  assert.ok(loaded > 0, "nothing loaded");
});

interface RandomVector { seed: number; bfbs: string; hash: string; canonical: string }

test("random schemas: canonical text and hash as Go", () => {
  const rs = JSON.parse(readText("schema/gameschema/testdata/vectors/random.json")) as RandomVector[];
  assert.ok(rs.length >= 20);
  for (const r of rs) {
    const b = new Uint8Array(r.bfbs.length / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(r.bfbs.slice(2 * i, 2 * i + 2), 16);
    const s = loadSchema(b);
    assert.equal(s.canonical, r.canonical, `seed ${r.seed}`);
    assert.equal(s.hash, r.hash, `seed ${r.seed}`);
  }
});
