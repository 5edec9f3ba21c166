// The client's world at one tick: immutable entities in ascending id order.

import type { Codec } from "./layout.js";

/**
 * A field's value: number for an int field whose values are all safe
 * integers (every field narrower than 54 bits, and 64-bit fields with a
 * declared range within ±(2^53−1)), bigint for the other int fields
 * (64-bit without a range: int64 and uint64 as the int64 of the same bits,
 * quantized floats without a range), Uint8Array for bytes fields (strings
 * are their UTF-8 bytes: see Entity.text).
 */
export type Value = number | bigint | Uint8Array;

/** Raw values: bigint for every int field, Uint8Array for bytes. */
export type RawValue = bigint | Uint8Array;

const empty: Uint8Array = new Uint8Array(0);
const utf8 = new TextDecoder();

/** An entity as the client sees it at one tick. Entities are immutable and shared between worlds. */
export class Entity {
  constructor(
    /** the codec of the game's layout */
    readonly codec: Codec,
    readonly id: number,
    /** index of the kind in the layout */
    readonly kind: number,
    /** the owning player's id; 0: none */
    readonly owner: number,
    /** raw values by field index (bigint ints, Uint8Array bytes) */
    readonly raw: readonly RawValue[],
  ) {}

  /** The kind's name (the schema's table name, e.g. "arena.Avatar"). */
  get kindName(): string { return this.codec.kinds[this.kind]!.name; }

  /** value returns field f (a name or an index); it throws for a field the kind does not have. */
  value(f: string | number): Value {
    const k = this.codec.kinds[this.kind]!;
    const i = typeof f === "number" ? f : k.fieldIndex(f);
    const fi = k.fields[i];
    if (!fi) throw new Error(`kind ${k.name} has no field ${f}`);
    const v = this.raw[i]!;
    return fi.asNumber ? Number(v as bigint) : v;
  }

  /** int returns an int field as a bigint, whatever its width. */
  int(f: string | number): bigint {
    const v = this.value(f);
    if (v instanceof Uint8Array) throw new Error(`field ${f} is bytes`);
    return BigInt(v);
  }

  /** bytes returns a bytes field. */
  bytes(f: string | number): Uint8Array {
    const v = this.value(f);
    if (!(v instanceof Uint8Array)) throw new Error(`field ${f} is an int`);
    return v;
  }

  /** text returns a bytes field decoded as UTF-8 (a schema string). */
  text(f: string | number): string { return utf8.decode(this.bytes(f)); }

  /** values returns every field by name. */
  values(): Record<string, Value> {
    const out: Record<string, Value> = {};
    this.codec.kinds[this.kind]!.fields.forEach((f, i) => (out[f.name] = this.value(i)));
    return out;
  }
}

/** The client's world at one tick. */
export class World {
  constructor(
    readonly codec: Codec,
    readonly tick: number,
    /** the entities by ascending id */
    readonly entities: readonly Entity[],
  ) {}

  /** The number of entities. */
  get size(): number { return this.entities.length; }

  /** get returns the entity with the given id, or undefined. */
  get(id: number): Entity | undefined {
    let lo = 0, hi = this.entities.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.entities[m]!.id < id) lo = m + 1;
      else hi = m;
    }
    const e = this.entities[lo];
    return e && e.id === id ? e : undefined;
  }

  /** ofKind returns the entities of a kind (by name or index), by ascending id. */
  ofKind(kind: string | number): Entity[] {
    const k = typeof kind === "number" ? kind : this.codec.kindIndex(kind);
    return this.entities.filter((e) => e.kind === k);
  }

  /** ownedBy returns the entities owned by a player, by ascending id. */
  ownedBy(player: number): Entity[] {
    return this.entities.filter((e) => e.owner === player);
  }
}

export { empty as emptyBytes };
