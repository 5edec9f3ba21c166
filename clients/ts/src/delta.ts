// The client side of the generic delta codec, written from
// schema/gamedelta/DELTA.md: Decoder applies one snapshot to a baseline
// world; Receiver keeps the ring of recently applied worlds by tick and
// applies each snapshot of the envelope against its baseline.
//
// Values are computed in BigInt (two's-complement 64-bit, wrapping), so
// every layout decodes exactly; entities that do not change are shared
// with the baseline world.

import { DeltaError } from "./errors.js";
import type { Codec, CodecField } from "./layout.js";
import { emptyBytes, Entity, type RawValue, World } from "./world.js";

const wrap64 = (v: bigint) => BigInt.asIntN(64, v);

function bad(msg: string): DeltaError {
  return new DeltaError("bad", msg);
}

class Bytes {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get left(): number { return this.buf.length - this.pos; }

  /** uvarint as Go's binary.Uvarint: at most 10 bytes, below 2^64. */
  uvarint(what: string): bigint {
    let x = 0n, s = 0n;
    for (let i = 0; ; i++) {
      if (i === 10 || this.pos >= this.buf.length) throw bad(`${what}: bad varint`);
      const b = this.buf[this.pos++]!;
      if (b < 0x80) {
        if (i === 9 && b > 1) throw bad(`${what}: varint overflows 64 bits`);
        return x | (BigInt(b) << s);
      }
      x |= BigInt(b & 0x7f) << s;
      s += 7n;
    }
  }

  /** id reads an id coded as the gap after prev (-1: the first). */
  id(prev: number, what: string): number {
    const u = this.uvarint(`${what} id`);
    const id = BigInt(prev) + 1n + u;
    if (u > 0xffffffffn || id > 0xffffffffn) throw bad(`${what} id after ${prev}: past 2^32`);
    return Number(id);
  }

  take(n: number): Uint8Array {
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function unzigzag(u: bigint): bigint {
  return wrap64((u >> 1n) ^ -(u & 1n));
}

function reduce(f: CodecField, v: bigint): bigint {
  if (f.bits === 64) return v;
  return f.signed ? BigInt.asIntN(f.bits, v) : BigInt.asUintN(f.bits, v);
}

function fits(f: CodecField, v: bigint): boolean {
  return f.any || (v >= f.min && v <= f.max);
}

/** field reads one value: bytes in full, or an int as pred + residual. */
function readField(r: Bytes, f: CodecField, pred: bigint, what: string): RawValue {
  if (f.bytes) {
    const n = r.uvarint(`${what}: length`);
    if (n > BigInt(f.maxLen) || n > BigInt(r.left)) throw bad(`${what}: bad length`);
    return r.take(Number(n));
  }
  let v = wrap64(pred + unzigzag(r.uvarint(what)));
  if (f.wrap) v = reduce(f, v);
  if (!fits(f, v)) throw bad(`${what}: ${v} does not fit`);
  return v;
}

/** Decoder applies snapshots for one player (DELTA.md). */
export class Decoder {
  constructor(readonly codec: Codec, readonly player: number, readonly maxEntities = 1 << 16) {}

  /**
   * apply returns the world at tick built from base (the world at the
   * snapshot's baseline; empty for a full snapshot), dt = tick − baseline and
   * the snapshot's bytes. It throws DeltaError("bad") for bytes that do not
   * apply; base is never modified.
   */
  apply(base: readonly Entity[], dt: number, data: Uint8Array, tick = 0): World {
    const c = this.codec;
    const r = new Bytes(data);
    const nb = base.length;
    const removed: number[] = [];
    const spawned: Entity[] = [];
    let n = nb; // common entities
    let first: bigint | undefined; // the presence section's first uvarint
    if (data.length > 0) {
      const f = r.uvarint("header");
      if ((f & 1n) === 0n) {
        first = f >> 1n;
      } else {
        const h = f >> 1n;
        if (h >> 1n > BigInt(nb)) throw bad(`${h >> 1n} ids removed from a baseline of ${nb} entities`);
        const nr = Number(h >> 1n);
        let ns = 0n;
        if ((h & 1n) !== 0n) {
          ns = r.uvarint("spawned count");
          const rem = r.left - nr;
          if (rem < 0 || ns > BigInt(Math.floor(rem / 3)) || BigInt(nb - nr) + ns > BigInt(this.maxEntities)) {
            throw bad(`${ns} spawned entities: too many`);
          }
        }
        let prev = -1;
        for (let i = 0; i < nr; i++) removed.push((prev = r.id(prev, "removed")));
        prev = -1;
        for (let i = 0n; i < ns; i++) {
          const id = (prev = r.id(prev, "spawned"));
          const kind = r.uvarint(`spawned ${id} kind`);
          if (kind >= BigInt(c.kinds.length)) throw bad(`spawned ${id}: bad kind`);
          const owner = r.uvarint(`spawned ${id} owner`);
          if (owner > 0xffffffffn) throw bad(`spawned ${id}: bad owner`);
          const k = c.kinds[Number(kind)]!;
          const owned = this.player !== 0 && Number(owner) === this.player;
          const raw = k.fields.map((fi) =>
            fi.ownerOnly && !owned ? zero(fi) : readField(r, fi, 0n, `spawned ${id} field ${fi.name}`));
          spawned.push(new Entity(c, id, Number(kind), Number(owner), raw));
        }
        n = nb - nr;
        if (r.left > 0) first = r.uvarint("changes");
      }
    }
    const ch = new Changes(r, n, first);
    const out: Entity[] = [];
    let i = 0, s = 0, k = 0, idx = 0;
    const ns = spawned.length, nr = removed.length;
    while (i < nb || s < ns) {
      if (s < ns && (i === nb || spawned[s]!.id <= base[i]!.id)) {
        const id = spawned[s]!.id;
        if (i < nb && id === base[i]!.id) {
          if (k >= nr || removed[k] !== id) throw bad(`spawned id ${id} already in the baseline`);
          k++;
          i++;
        }
        out.push(spawned[s++]!);
        continue;
      }
      const id = base[i]!.id;
      if (k < nr && removed[k]! <= id) {
        if (removed[k]! < id) throw bad(`removed id ${removed[k]} not in the baseline`);
        k++;
        i++;
        continue;
      }
      out.push(this.common(base[i]!, ch, idx, dt));
      idx++;
      i++;
    }
    if (k < nr) throw bad(`removed id ${removed[k]} not in the baseline`);
    ch.finish();
    return new World(c, tick, out);
  }

  /** common returns common entity idx at the new tick: predicted, then changed by its record. */
  private common(b: Entity, ch: Changes, idx: number, dt: number): Entity {
    const k = this.codec.kinds[b.kind]!;
    const ownedB = this.player !== 0 && b.owner === this.player;
    const vals: RawValue[] = b.raw.slice();
    let changed = false;
    const bdt = BigInt(dt);
    k.fields.forEach((fi, f) => {
      if (fi.vel < 0 || (fi.ownerOnly && !ownedB)) return;
      let v = wrap64((b.raw[f] as bigint) + (b.raw[fi.vel] as bigint) * bdt);
      if (fi.wrap) v = reduce(fi, v);
      if (v !== vals[f]) changed = true;
      vals[f] = v;
    });
    let owner = b.owner;
    if (idx === ch.next) {
      const r = ch.r;
      if (r.left === 0) throw bad(`entity ${b.id}: change record missing`);
      const n = k.fields.length;
      const mask = r.uvarint(`entity ${b.id} mask`);
      if (mask === 0n || mask >> BigInt(n + 1) !== 0n) throw bad(`entity ${b.id}: bad change mask`);
      if ((mask & (1n << BigInt(n))) !== 0n) {
        const o = r.uvarint(`entity ${b.id} owner`);
        if (o > 0xffffffffn) throw bad(`entity ${b.id}: bad owner`);
        owner = Number(o);
      }
      const owned = this.player !== 0 && owner === this.player;
      for (let f = 0; f < n; f++) {
        if ((mask & (1n << BigInt(f))) === 0n) continue;
        const fi = k.fields[f]!;
        if (fi.ownerOnly && !owned) throw bad(`entity ${b.id}: owner-only field ${fi.name} of an entity the player does not own`);
        vals[f] = readField(r, fi, fi.bytes ? 0n : (vals[f] as bigint), `entity ${b.id} field ${fi.name}`);
      }
      changed = true;
      ch.advance(idx);
    }
    const owned = this.player !== 0 && owner === this.player;
    if (!owned && ownedB) {
      k.fields.forEach((fi, f) => {
        if (fi.ownerOnly) vals[f] = zero(fi);
      });
      changed = true;
    }
    k.fields.forEach((fi, f) => {
      const check = owned && !ownedB ? !fi.bytes : fi.vel >= 0;
      if (!check || (fi.ownerOnly && !owned)) return;
      if (!fits(fi, vals[f] as bigint)) throw bad(`entity ${b.id} field ${fi.name}: ${vals[f]} does not fit`);
    });
    return changed ? new Entity(this.codec, b.id, b.kind, owner, vals) : b;
  }
}

function zero(f: CodecField): RawValue {
  return f.bytes ? emptyBytes : 0n;
}

/** Changes walks the presence section while the decoder visits the common entities in order. */
class Changes {
  next = -1;
  private gaps = false;
  private bitmap: Uint8Array = emptyBytes;

  constructor(readonly r: Bytes, readonly n: number, first: bigint | undefined) {
    if (first === undefined) return;
    if (first !== 0n) {
      if (first > BigInt(n)) throw bad(`changes: first changed index ${first - 1n} of ${n} common entities`);
      this.gaps = true;
      this.next = Number(first - 1n);
      return;
    }
    const nb = (n + 7) >> 3;
    if (r.left < nb) throw bad(`changes: bitmap of ${nb} bytes for ${n} entities, ${r.left} bytes left`);
    this.bitmap = r.take(nb);
    const rem = n % 8;
    if (rem !== 0 && this.bitmap[nb - 1]! >> rem !== 0) throw bad(`changes: bitmap bits set past ${n} entities`);
    this.next = this.nextBit(0);
  }

  private nextBit(from: number): number {
    for (let i = from; i < this.n; i++) if ((this.bitmap[i >> 3]! >> (i & 7)) & 1) return i;
    return -1;
  }

  advance(idx: number): void {
    if (!this.gaps) {
      this.next = this.nextBit(idx + 1);
      return;
    }
    if (this.r.left === 0) {
      this.next = -1;
      return;
    }
    const g = this.r.uvarint("changes gap");
    if (g >= BigInt(this.n - idx - 1)) throw bad(`changes: gap ${g} after index ${idx} of ${this.n} common entities`);
    this.next = idx + 1 + Number(g);
  }

  finish(): void {
    if (this.next >= 0) throw bad(`changes: index ${this.next} of ${this.n} common entities never reached`);
    if (this.r.left !== 0) throw bad(`changes: ${this.r.left} trailing bytes`);
  }
}

/** Options of a Receiver (Go: gamedelta.ReceiverConfig). */
export interface ReceiverOptions {
  /** the client's player id (Welcome.player_id); 0: owns nothing */
  player: number;
  /** recent worlds kept as baselines, 2..1024 (default 64); at least the server's history */
  history?: number;
  /** most entities of a world, 1..2^24 (default 65536) */
  maxEntities?: number;
}

/**
 * Receiver is the client side of the codec: the worlds of the snapshots it
 * applied most recently, by tick (a ring indexed by tick % history), as
 * baselines for the next ones. Apply each Snapshot of the envelope (tick,
 * baseline_tick and the game's delta bytes) and acknowledge newest in the
 * inputs.
 */
export class Receiver {
  readonly player: number;
  private readonly decoder: Decoder;
  private readonly slots: (World | undefined)[];
  private newestTick = 0;

  constructor(readonly codec: Codec, options: ReceiverOptions) {
    const history = options.history ?? 64;
    const maxEntities = options.maxEntities ?? 1 << 16;
    if (!Number.isInteger(history) || history < 2 || history > 1024) throw new Error(`history ${history}: must be 2..1024`);
    if (!Number.isInteger(maxEntities) || maxEntities < 1 || maxEntities > 1 << 24) throw new Error(`max entities ${maxEntities}: must be 1..${1 << 24}`);
    if (!Number.isInteger(options.player) || options.player < 0 || options.player > 0xffffffff) throw new Error(`player ${options.player}: must be a uint32`);
    this.player = options.player;
    this.decoder = new Decoder(codec, options.player, maxEntities);
    this.slots = new Array<World | undefined>(history).fill(undefined);
  }

  /**
   * apply applies the snapshot of tick encoded against baseline (0: full) and
   * returns the world at tick. It throws DeltaError: "stale" for a tick not
   * after newest (ignore it), "nobaseline" when the baseline is not held
   * (keep acknowledging newest: the server falls back to a full snapshot),
   * "bad" for bytes that do not apply. On error nothing changes.
   */
  apply(tick: number, baseline: number, data: Uint8Array): World {
    if (tick === 0 || (baseline >= tick && baseline !== 0)) throw bad(`tick ${tick} against baseline ${baseline}`);
    if (tick <= this.newestTick) throw new DeltaError("stale", `tick ${tick}, newest ${this.newestTick}`);
    let base: readonly Entity[] = [];
    if (baseline !== 0) {
      const w = this.world(baseline);
      if (!w) throw new DeltaError("nobaseline", `tick ${baseline}`);
      base = w.entities;
    }
    const w = this.decoder.apply(base, tick - baseline, data, tick);
    this.slots[tick % this.slots.length] = w;
    this.newestTick = tick;
    return w;
  }

  /** The newest tick applied (0: none): the tick to acknowledge. */
  get newest(): number { return this.newestTick; }

  /** world returns the held world of tick, or undefined. */
  world(tick: number): World | undefined {
    if (tick === 0) return undefined;
    const w = this.slots[tick % this.slots.length];
    return w && w.tick === tick ? w : undefined;
  }

  /** reset forgets every world (a new connection to a server with no record of this client). */
  reset(): void {
    this.newestTick = 0;
    this.slots.fill(undefined);
  }
}

