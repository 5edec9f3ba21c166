// Delta decoding and the client's world history.
//
// A Snapshot carries the world at its tick as a delta against a baseline the
// client acknowledged (baseline_tick; 0 = full snapshot): removed ids, spawned
// entities in full, and the "changes" bytes for the entities present in both.
// The byte format is schema/DELTA.md; applyDelta below is its TypeScript
// reader, a line-by-line port of schema.Apply (Go): it must accept and
// refuse exactly what Apply does. test/delta.test.ts checks it against
// vectors written by the Go codec (valid deltas from schema.Diff, and
// corrupted ones with schema.Apply's verdict).

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

// Mask bits of a change record, in the order their values follow the mask.
export const MaskX = 1 << 0;
export const MaskY = 1 << 1;
export const MaskVX = 1 << 2;
export const MaskVY = 1 << 3;
export const MaskAngle = 1 << 4;
export const MaskHP = 1 << 5;
export const MaskKind = 1 << 6;
export const MaskOwner = 1 << 7;

// maxResidual bounds a decoded position residual (schema.maxResidual).
const maxResidual = 2 ** 49;
const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const uint32Max = 2 ** 32 - 1;

/**
 * readUvarint reads Go's binary.Uvarint at pos: unsigned LEB128 of at most
 * 10 bytes, the 10th at most 1. It returns [value, width]; a value of 2^53
 * or more comes back as Infinity (it is out of range for every field), and a
 * truncated or overlong varint as width 0.
 */
export function readUvarint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) return [0, 0];
    const b = buf[pos + i]!;
    if (b < 0x80) {
      if (i === 9 && b > 1) return [0, 0];
      v += b * 2 ** (7 * i);
      return [v >= 2 ** 53 ? Infinity : v, i + 1];
    }
    v += (b & 0x7f) * 2 ** (7 * i);
  }
  return [0, 0];
}

/** unzigzag maps (v << 1) ^ (v >> 63) back to v. */
export function unzigzag(u: number): number {
  if (u === Infinity) return Infinity;
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/**
 * predict is where a coordinate p moving at v per tick is dt ticks later,
 * exact (|p| < 2^31, |v·dt| < 2^47: no rounding in a double).
 */
export function predict(p: number, v: number, dt: number): number {
  return p + v * dt;
}

/**
 * ChangeReader walks the "changes" bytes while applyDelta visits the common
 * entities in order (schema.changeReader).
 */
class ChangeReader {
  pos = 0;
  private gaps = false;
  private bitmap: Uint8Array | null = null;
  /** Index of the next changed common entity; -1: none left. */
  next = -1;

  constructor(
    private readonly buf: Uint8Array,
    private readonly n: number,
  ) {}

  start(): void {
    this.next = -1;
    if (this.buf.length === 0) return;
    const [h, w] = readUvarint(this.buf, 0);
    if (w === 0) throw new DeltaError("changes: bad header varint");
    this.pos = w;
    if (h !== 0) {
      if (h > this.n) throw new DeltaError(`changes: first changed index ${h - 1} of ${this.n} common entities`);
      this.gaps = true;
      this.next = h - 1;
      return;
    }
    const nb = (this.n + 7) >> 3;
    if (this.buf.length - w < nb) throw new DeltaError(`changes: bitmap of ${nb} bytes, ${this.buf.length - w} left`);
    this.bitmap = this.buf.subarray(w, w + nb);
    this.pos = w + nb;
    const rem = this.n % 8;
    if (rem !== 0 && this.bitmap[nb - 1]! >> rem !== 0) throw new DeltaError(`changes: bitmap bits set past ${this.n} entities`);
    this.next = this.nextBit(0);
  }

  private nextBit(from: number): number {
    const bm = this.bitmap!;
    for (let i = from; i < this.n; i++) {
      if ((bm[i >> 3]! >> (i & 7)) & 1) return i;
    }
    return -1;
  }

  private advance(idx: number): void {
    if (!this.gaps) {
      this.next = this.nextBit(idx + 1);
      return;
    }
    if (this.pos === this.buf.length) {
      this.next = -1;
      return;
    }
    const [g, w] = readUvarint(this.buf, this.pos);
    if (w === 0) throw new DeltaError(`changes: bad gap varint at byte ${this.pos}`);
    this.pos += w;
    if (g >= this.n - idx - 1) throw new DeltaError(`changes: gap ${g} after index ${idx} of ${this.n}`);
    this.next = idx + 1 + g;
  }

  finish(): void {
    if (this.next >= 0) throw new DeltaError(`changes: index ${this.next} of ${this.n} never reached`);
    if (this.pos !== this.buf.length) throw new DeltaError(`changes: ${this.buf.length - this.pos} trailing bytes`);
  }

  private varint(limit: number, id: number, field: string): number {
    const [u, w] = readUvarint(this.buf, this.pos);
    if (w === 0) throw new DeltaError(`entity ${id}: ${field}: bad varint at byte ${this.pos}`);
    this.pos += w;
    const v = unzigzag(u);
    if (v < -limit || v > limit) throw new DeltaError(`entity ${id}: ${field} change ${v} out of range`);
    return v;
  }

  /** entity returns common entity idx (base b) at the new tick. */
  entity(b: Entity, idx: number, dt: number): Entity {
    const e: Entity = { ...b };
    let x = predict(b.x, b.vx, dt);
    let y = predict(b.y, b.vy, dt);
    if (idx === this.next) {
      if (this.pos >= this.buf.length) throw new DeltaError(`entity ${b.id}: change record missing`);
      const m = this.buf[this.pos++]!;
      if (m === 0) throw new DeltaError(`entity ${b.id}: empty change mask`);
      if (m & MaskX) x += this.varint(maxResidual, e.id, "x");
      if (m & MaskY) y += this.varint(maxResidual, e.id, "y");
      if (m & MaskVX) {
        const v = e.vx + this.varint(0xffff, e.id, "vx");
        if (v < -32768 || v > 32767) throw new DeltaError(`entity ${e.id}: vx ${v} out of int16 range`);
        e.vx = v;
      }
      if (m & MaskVY) {
        const v = e.vy + this.varint(0xffff, e.id, "vy");
        if (v < -32768 || v > 32767) throw new DeltaError(`entity ${e.id}: vy ${v} out of int16 range`);
        e.vy = v;
      }
      if (m & MaskAngle) {
        const v = this.varint(32768, e.id, "angle");
        if (v > 32767) throw new DeltaError(`entity ${e.id}: angle change ${v} out of int16 range`);
        e.angle = (e.angle + v) & 0xffff;
      }
      const need = (m & MaskHP ? 1 : 0) + (m & MaskKind ? 1 : 0);
      if (this.buf.length - this.pos < need) throw new DeltaError(`entity ${e.id}: record truncated`);
      if (m & MaskHP) e.hp = this.buf[this.pos++]!;
      if (m & MaskKind) e.kind = this.buf[this.pos++]!;
      if (m & MaskOwner) {
        const [u, w] = readUvarint(this.buf, this.pos);
        if (w === 0 || u > uint32Max) throw new DeltaError(`entity ${e.id}: bad owner varint at byte ${this.pos}`);
        this.pos += w;
        e.owner = u;
      }
      this.advance(idx);
    }
    if (x < int32Min || x > int32Max || y < int32Min || y > int32Max) {
      throw new DeltaError(`entity ${b.id}: position (${x}, ${y}) out of int32 range`);
    }
    e.x = x;
    e.y = y;
    return e;
  }
}

/**
 * applyDelta rebuilds the world at a snapshot's tick from base (the world at
 * the baseline tick, sorted by id; not modified) and the snapshot's delta,
 * with dt = tick − baseline_tick. It follows schema/DELTA.md and refuses
 * (DeltaError) exactly what schema.Apply refuses. The result is sorted by id
 * and shares no object with base. A full snapshot is
 * applyDelta([], 0, spawned, empty, []).
 */
export function applyDelta(
  base: readonly Entity[],
  dt: number,
  spawned: readonly Entity[],
  changes: Uint8Array,
  removed: ArrayLike<number>,
): Entity[] {
  if (removed.length > base.length) {
    throw new DeltaError(`${removed.length} ids removed from a baseline of ${base.length} entities`);
  }
  const r = new ChangeReader(changes, base.length - removed.length);
  r.start();
  const out: Entity[] = [];
  let i = 0;
  let s = 0;
  let k = 0;
  let idx = 0;
  while (i < base.length || s < spawned.length) {
    let e: Entity;
    if (s < spawned.length && (i === base.length || spawned[s]!.id < base[i]!.id)) {
      e = { ...spawned[s++]! };
    } else {
      const b = base[i++]!;
      if (s < spawned.length && spawned[s]!.id === b.id) throw new DeltaError(`spawned id ${b.id} already in the baseline`);
      if (k < removed.length && removed[k]! <= b.id) {
        if (removed[k]! < b.id) throw new DeltaError(`removed id ${removed[k]} not in the baseline`);
        k++;
        continue;
      }
      e = r.entity(b, idx++, dt);
    }
    const n = out.length;
    if (n > 0 && e.id <= out[n - 1]!.id) throw new DeltaError(`id ${e.id} after id ${out[n - 1]!.id}: result not sorted`);
    out.push(e);
  }
  if (k < removed.length) throw new DeltaError(`removed id ${removed[k]} not in the baseline`);
  r.finish();
  return out;
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
