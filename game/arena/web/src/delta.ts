// Delta decoding and the client's world history.
//
// A Snapshot carries the world at its tick as a delta against a baseline the
// client acknowledged (baseline_tick; 0 = full snapshot): removed ids, spawned
// entities in full, and the "changes" bytes for the entities present in both.
// The byte format is schema/DELTA.md; applyDelta below is its TypeScript
// reader and must agree with schema.Apply (Go). The test in
// test/delta.test.ts checks it against vectors written by the Go codec.

/** One entity, quantized as on the wire (positions in 1/16 units). */
export interface Entity {
  id: number;
  owner: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  angle: number;
  kind: number;
  hp: number;
}

/** Thrown when a delta does not fit its baseline (schema.ErrBadDelta). */
export class DeltaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeltaError";
  }
}

// Mask bits of one changed entity, in the order their values follow.
export const MaskX = 1 << 0;
export const MaskY = 1 << 1;
export const MaskVX = 1 << 2;
export const MaskVY = 1 << 3;
export const MaskAngle = 1 << 4;
export const MaskHP = 1 << 5;
export const MaskKind = 1 << 6;
export const MaskOwner = 1 << 7;

/** Reader over a byte array; every read is bounds-checked. */
class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.buf.length) throw new DeltaError("changes: truncated");
    return this.buf[this.pos++]!;
  }

  /** An unsigned LEB128 varint of at most 32 bits (Go's binary.Uvarint). */
  uvarint(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      if (shift === 28 && b > 0x0f) throw new DeltaError("changes: varint overflows 32 bits");
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new DeltaError("changes: varint too long");
  }

  /** A zigzag-encoded signed 32-bit varint. */
  varint(): number {
    const u = this.uvarint();
    // (u >>> 1) ^ -(u & 1), in 32-bit arithmetic.
    return (u / 2) ^ -(u & 1);
  }

  done(): boolean {
    return this.pos === this.buf.length;
  }
}

const int16 = (v: number): number => (v << 16) >> 16;

/**
 * predictX returns where the delta format predicts an entity's coordinate
 * dt ticks after base: base + velocity·dt, in int32 arithmetic.
 */
export function predict(pos: number, vel: number, dt: number): number {
  return (pos + Math.imul(vel, dt)) | 0;
}

/**
 * applyDelta rebuilds the world at a snapshot's tick from base (the world at
 * the baseline tick, sorted by id, not modified) and the snapshot's delta,
 * dt = tick - baseline_tick. The result is sorted by id and shares no object
 * with base. A full snapshot is applyDelta([], 0, spawned, empty, []).
 */
export function applyDelta(
  base: readonly Entity[],
  dt: number,
  spawned: readonly Entity[],
  changes: Uint8Array,
  removed: ArrayLike<number>,
): Entity[] {
  // removed must name entities of the baseline; sort a copy to walk it with base.
  const gone = Array.from(removed).sort((a, b) => a - b);
  const common: Entity[] = [];
  let g = 0;
  for (const e of base) {
    while (g < gone.length && gone[g]! < e.id) {
      throw new DeltaError(`removed id ${gone[g]} not in baseline`);
    }
    if (g < gone.length && gone[g] === e.id) {
      g++;
      continue;
    }
    common.push(e);
  }
  if (g < gone.length) throw new DeltaError(`removed id ${gone[g]} not in baseline`);

  const out: Entity[] = new Array(common.length);
  const n = common.length;
  const r = new Reader(changes);
  if (n > 0 && changes.length > 0) {
    const bitmapLen = (n + 7) >> 3;
    const bitmapStart = r.pos;
    r.pos += bitmapLen;
    if (r.pos > changes.length) throw new DeltaError("changes: bitmap truncated");
    for (let i = 0; i < n; i++) {
      const b = common[i]!;
      const changed = (changes[bitmapStart + (i >> 3)]! >> (i & 7)) & 1;
      const e: Entity = {
        id: b.id,
        owner: b.owner,
        x: predict(b.x, b.vx, dt),
        y: predict(b.y, b.vy, dt),
        vx: b.vx,
        vy: b.vy,
        angle: b.angle,
        kind: b.kind,
        hp: b.hp,
      };
      if (changed) {
        const mask = r.byte();
        if (mask & MaskX) e.x = (e.x + r.varint()) | 0;
        if (mask & MaskY) e.y = (e.y + r.varint()) | 0;
        if (mask & MaskVX) e.vx = int16(b.vx + r.varint());
        if (mask & MaskVY) e.vy = int16(b.vy + r.varint());
        if (mask & MaskAngle) e.angle = (b.angle + r.varint()) & 0xffff;
        if (mask & MaskHP) e.hp = r.byte();
        if (mask & MaskKind) e.kind = r.byte();
        if (mask & MaskOwner) e.owner = r.uvarint();
      }
      out[i] = e;
    }
    // Bits past n in the last bitmap byte must be zero.
    const last = changes[bitmapStart + bitmapLen - 1]!;
    if (n & 7 && last >> (n & 7)) throw new DeltaError("changes: bitmap bits past the last entity");
  } else {
    for (let i = 0; i < n; i++) {
      const b = common[i]!;
      out[i] = { ...b, x: predict(b.x, b.vx, dt), y: predict(b.y, b.vy, dt) };
    }
  }
  if (!r.done()) throw new DeltaError("changes: trailing bytes");

  if (spawned.length === 0) return out;
  // Merge the spawned entities (sorted by the encoder; sort a copy to be safe).
  const sp = spawned.map((e) => ({ ...e })).sort((a, b) => a.id - b.id);
  const merged: Entity[] = [];
  let i = 0;
  let j = 0;
  while (i < out.length || j < sp.length) {
    if (j >= sp.length || (i < out.length && out[i]!.id < sp[j]!.id)) {
      merged.push(out[i++]!);
    } else if (i >= out.length || sp[j]!.id < out[i]!.id) {
      merged.push(sp[j++]!);
    } else {
      throw new DeltaError(`spawned id ${sp[j]!.id} already in baseline`);
    }
  }
  return merged;
}

/** One decoded world and the tick it belongs to. */
export interface World {
  tick: number;
  entities: Entity[];
}

/**
 * WorldRing keeps the newest worlds by tick (64 by default), so a snapshot's
 * baseline can be found while the server's view of our ack lags behind.
 */
export class WorldRing {
  private readonly slots: (World | undefined)[];
  private newestTick = 0;

  constructor(readonly size = 64) {
    this.slots = new Array(size);
  }

  /** get returns the world stored for tick, or undefined. */
  get(tick: number): World | undefined {
    if (tick === 0) return undefined;
    const w = this.slots[tick % this.size];
    return w && w.tick === tick ? w : undefined;
  }

  /** put stores w; a world older than the ring's reach is ignored. */
  put(w: World): void {
    if (w.tick === 0 || w.tick + this.size <= this.newestTick) return;
    this.slots[w.tick % this.size] = w;
    if (w.tick > this.newestTick) this.newestTick = w.tick;
  }

  /** newest returns the world with the highest tick, or undefined. */
  newest(): World | undefined {
    return this.get(this.newestTick);
  }

  clear(): void {
    this.slots.fill(undefined);
    this.newestTick = 0;
  }
}
