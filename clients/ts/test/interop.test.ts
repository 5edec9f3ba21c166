// Byte-level agreement with the Go side, through files both sides keep in
// clients/ts/testdata (the Go half is interop_test.go beside package.json):
//
//   go_tables.json    game tables (inputs, joins, entities, events of the
//                     arena, cards and random schemas) built by Go's
//                     gameschema from random values, with those values:
//                     here they must decode to the same values;
//   ts_tables.json    the same values encoded here: Go verifies and decodes
//                     them (and this test checks they are what the encoder
//                     writes today);
// (messages.test.ts does the same for the envelope's messages.)
//
// TICKSYNC_UPDATE=1 npm test rewrites the ts_*.json files;
// go test ./clients/ts -update rewrites the go_*.json files.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import {
  decodeEvent, decodeTable, encodeEvent, encodeTable, type FieldValue, hex, loadSchema,
  type Schema, type SchemaField, type SchemaTable, type Values,
} from "../src/index.js";
import { fromHex, readText, repo } from "./paths.js";

interface GoItem { table: string; events?: "client" | "server"; values: Record<string, string>; data: string }
interface GoSchema { name: string; bfbs: string; items: GoItem[] }

function checkOrUpdate(path: string, v: unknown): void {
  const text = JSON.stringify(v, null, 1) + "\n";
  if (process.env.TICKSYNC_UPDATE) {
    writeFileSync(resolve(repo, path), text);
    return;
  }
  assert.equal(readText(path), text, `${path} is not what the encoder writes today: run TICKSYNC_UPDATE=1 npm test`);
}

function tableOf(s: Schema, name: string): SchemaTable {
  const t = [...s.entities, s.input, ...(s.join ? [s.join] : [])].find((x) => x.name === name);
  if (!t) throw new Error(`${s.name}: no table ${name}`);
  return t;
}

/** same compares a decoded value with Go's text of it (gameschema.Values: Int, Uint, Float, Bool, Text, hex Bytes). */
function same(v: FieldValue | undefined, s: string | undefined): boolean {
  if (v === undefined || s === undefined) return false;
  if (typeof v === "boolean") return String(v) === s;
  if (typeof v === "string") return v === s;
  if (v instanceof Uint8Array) return hex(v) === s;
  if (typeof v === "bigint") return v === BigInt(s);
  return v === Number(s);
}

function show(v: FieldValue | undefined): string {
  return v instanceof Uint8Array ? hex(v) : String(v);
}

test("interop: tables Go built decode to Go's values; re-encoded here, Go reads them (ts_tables.json)", () => {
  const goTables = JSON.parse(readText("clients/ts/testdata/go_tables.json")) as { schemas: GoSchema[] };
  assert.ok(goTables.schemas.length >= 3);
  const out: string[][] = [];
  let n = 0;
  for (const gs of goTables.schemas) {
    const s = loadSchema(fromHex(gs.bfbs));
    const enc: string[] = [];
    gs.items.forEach((it, i) => {
      const where = `${gs.name} item ${i} (${it.table})`;
      let t: SchemaTable, values: Values, bytes: Uint8Array;
      if (it.events) {
        const ev = it.events === "client" ? s.clientEvents! : s.serverEvents!;
        const d = decodeEvent(ev, fromHex(it.data));
        assert.equal(d.table, it.table, where);
        t = ev.tables.find((x) => x.name === it.table)!;
        values = d.values;
        bytes = encodeEvent(ev, d.name, d.values);
      } else {
        t = tableOf(s, it.table);
        values = decodeTable(t, fromHex(it.data));
        bytes = encodeTable(t, values);
      }
      assert.deepEqual(Object.keys(values).sort(), Object.keys(it.values).sort(), where);
      for (const f of t.fields as SchemaField[]) {
        assert.ok(same(values[f.name], it.values[f.name]), `${where}: ${f.name} (${f.type}): ${show(values[f.name])}, Go: ${it.values[f.name]}`);
      }
      enc.push(hex(bytes));
      n++;
    });
    out.push(enc);
  }
  assert.ok(n > 100, `${n} tables`);
  checkOrUpdate("clients/ts/testdata/ts_tables.json", { schemas: out });
});
