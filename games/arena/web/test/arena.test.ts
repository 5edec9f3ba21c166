// Tests of the page's arena reading and input building (src/arena.ts)
// against the arena's compiled schema (games/arena/arena.bfbs, or
// $TICKSYNC_ARENA_BFBS): entities by kind and field name from a generic
// world, inputs built by the library from the Input table's values, the
// ?stall= parameter.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { compileLayout, decodeTable, encodeTable, Entity, GameWorld, layoutFromSchema, loadSchema, World } from "@ticksync/client";
import { EntityViews } from "../../../../clients/ts/src/gameworld";
import { findOwn, inputValues, readEntities, stallOption } from "../src/arena";

const bfbsPath = process.env.TICKSYNC_ARENA_BFBS || join(process.cwd(), "..", "arena.bfbs");
const schema = loadSchema(new Uint8Array(readFileSync(bfbsPath)));
const codec = compileLayout(layoutFromSchema(schema));

test("the arena schema has the kinds and fields the page reads", () => {
  const names = schema.entities.map((t) => t.name);
  assert.deepEqual(names, ["arena.Avatar", "arena.Npc"]);
  for (const t of schema.entities) {
    assert.deepEqual(t.fields.map((f) => f.name), ["x", "y", "vx", "vy", "angle", "hp"], t.name);
  }
  assert.deepEqual(schema.input.fields.map((f) => f.name), ["move_x", "move_y", "aim", "buttons"]);
});

test("readEntities: kind names and fields from the generic world", () => {
  const avatar = codec.kindIndex("arena.Avatar");
  const npc = codec.kindIndex("arena.Npc");
  const raw = (x: number, y: number, vx: number, vy: number, angle: number, hp: number) => [x, y, vx, vy, angle, hp].map(BigInt);
  const w = new World(codec, 9, [
    new Entity(codec, 1, npc, 0, raw(3200, 4800, -5, 7, 1000, 40)),
    new Entity(codec, 5, avatar, 3, raw(16000, 0, 12, -12, 65535, 100)),
  ]);
  const ents = readEntities(new GameWorld(w, new EntityViews(schema)));
  assert.deepEqual(ents, [
    { id: 1, owner: 0, kind: "Npc", x: 3200, y: 4800, vx: -5, vy: 7, angle: 1000, hp: 40 },
    { id: 5, owner: 3, kind: "Avatar", x: 16000, y: 0, vx: 12, vy: -12, angle: 65535, hp: 100 },
  ]);
  assert.equal(findOwn(ents, 5, 3)?.id, 5);
  assert.equal(findOwn(ents, 0, 3)?.id, 5);
  assert.equal(findOwn(ents, 0, 4), undefined);
  assert.equal(findOwn(ents, 7, 3), undefined);
});

test("inputValues: built by the library into the arena's Input table", () => {
  const cases = [
    { c: { moveX: 71, moveY: -71, aim: 16384, buttons: 0 }, want: { move_x: 71, move_y: -71, aim: 16384, buttons: 0 } },
    { c: { moveX: 0, moveY: 0, aim: 0, buttons: 0 }, want: { move_x: 0, move_y: 0, aim: 0, buttons: 0 } },
    // Out of range values are clamped to what the table takes.
    { c: { moveX: 250, moveY: -250, aim: 70000, buttons: 300 }, want: { move_x: 100, move_y: -100, aim: 65535, buttons: 255 } },
    { c: { moveX: Number.NaN, moveY: 0.4, aim: -1, buttons: 1 }, want: { move_x: 0, move_y: 0, aim: 0, buttons: 1 } },
  ];
  for (const { c, want } of cases) {
    const v = inputValues(c);
    assert.deepEqual(v, want);
    assert.deepEqual(decodeTable(schema.input, encodeTable(schema.input, v)), want);
  }
});

test("stallOption: the ?stall= parameter", () => {
  const cases: [string | null, number | undefined][] = [
    [null, undefined], ["", undefined], ["x", undefined], ["0", 0], ["-5", 0], ["500", 1000], ["1000", 1000], ["3500", 3500],
  ];
  for (const [p, want] of cases) assert.equal(stallOption(p), want, String(p));
});
