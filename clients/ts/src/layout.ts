// The delta codec's layout (schema/gamedelta/DELTA.md, "Layout"): entity
// kinds, each a list of int or bytes fields, named on the wire by index.

import type { Schema } from "./schema.js";

/** One field of a kind, as gamedelta.Field (defaults resolved by compileLayout). */
export interface LayoutField {
  readonly name: string;
  readonly type: "int" | "bytes";
  /** int: width 1..64 (default 64) */
  readonly bits?: number;
  readonly signed?: boolean;
  /** int: modular (angles) */
  readonly wrap?: boolean;
  /** int: narrowed range; both absent (or both 0): the range of bits */
  readonly min?: bigint | number | string;
  readonly max?: bigint | number | string;
  /** int: name of the int field of the same kind that predicts this one */
  readonly velocity?: string;
  readonly ownerOnly?: boolean;
  /** bytes: longest value, 1..65536 (default 255) */
  readonly maxLen?: number;
}

export interface LayoutKind {
  readonly name: string;
  readonly fields: readonly LayoutField[];
}

export interface Layout {
  readonly kinds: readonly LayoutKind[];
}

/** A compiled field: everything the decoder reads. */
export interface CodecField {
  readonly name: string;
  readonly bytes: boolean;
  readonly bits: number;
  readonly signed: boolean;
  readonly wrap: boolean;
  readonly min: bigint;
  readonly max: bigint;
  /** every int64 is a value (64 bits, no range) */
  readonly any: boolean;
  readonly vel: number; // index of the velocity field, -1: none
  readonly ownerOnly: boolean;
  readonly maxLen: number;
  /** the values are exposed as number (they all are safe integers), else bigint */
  readonly asNumber: boolean;
}

export interface CodecKind {
  readonly name: string;
  readonly fields: readonly CodecField[];
  fieldIndex(name: string): number;
}

/** A compiled layout, shared by every world and receiver of a game. */
export interface Codec {
  readonly kinds: readonly CodecKind[];
  kindIndex(name: string): number;
}

const MAX_KINDS = 1 << 16, MAX_FIELDS = 63, MAX_BYTES_LEN = 1 << 16, DEFAULT_MAX_LEN = 255;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** compileLayout checks a layout as gamedelta.Compile does and compiles it. */
export function compileLayout(l: Layout): Codec {
  if (l.kinds.length === 0 || l.kinds.length > MAX_KINDS) throw new Error(`layout: ${l.kinds.length} kinds: must be 1..${MAX_KINDS}`);
  const kinds = l.kinds.map((k): CodecKind => {
    if (k.fields.length > MAX_FIELDS) throw new Error(`layout: kind ${k.name}: ${k.fields.length} fields: must be 0..${MAX_FIELDS}`);
    const fields = k.fields.map((f, i) => compileField(k, i, f));
    return { name: k.name, fields, fieldIndex: (n) => fields.findIndex((f) => f.name === n) };
  });
  return { kinds, kindIndex: (n) => kinds.findIndex((k) => k.name === n) };
}

function compileField(k: LayoutKind, i: number, f: LayoutField): CodecField {
  const where = `layout: kind ${k.name} field ${f.name}`;
  if (f.type === "bytes") {
    if (f.velocity || f.wrap || f.bits || f.signed || big(f.min) !== 0n || big(f.max) !== 0n) {
      throw new Error(`${where}: velocity, wrap, bits, signed or range on a bytes field`);
    }
    const maxLen = f.maxLen || DEFAULT_MAX_LEN;
    if (maxLen < 1 || maxLen > MAX_BYTES_LEN) throw new Error(`${where}: max length ${maxLen}`);
    return { name: f.name, bytes: true, bits: 0, signed: false, wrap: false, min: 0n, max: 0n, any: false, vel: -1,
      ownerOnly: !!f.ownerOnly, maxLen, asNumber: false };
  }
  if (f.type !== "int") throw new Error(`${where}: type ${String(f.type)}`);
  if (f.maxLen) throw new Error(`${where}: max length on an int field`);
  const bits = f.bits || 64;
  if (bits < 1 || bits > 64) throw new Error(`${where}: bits ${bits}: must be 0..64`);
  const signed = !!f.signed, wrap = !!f.wrap;
  let min: bigint, max: bigint;
  if (bits === 64 && signed) [min, max] = [-(1n << 63n), (1n << 63n) - 1n];
  else if (bits === 64) [min, max] = [0n, (1n << 63n) - 1n];
  else if (signed) [min, max] = [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n];
  else [min, max] = [0n, (1n << BigInt(bits)) - 1n];
  let any = bits === 64;
  const lo = big(f.min), hi = big(f.max);
  if (lo !== 0n || hi !== 0n) {
    if (wrap || lo > hi || lo < min || hi > max) throw new Error(`${where}: range ${lo}..${hi}: must be within ${min}..${max}, and not on a wrapping field`);
    [min, max, any] = [lo, hi, false];
  }
  let vel = -1;
  if (f.velocity) {
    vel = k.fields.findIndex((g) => g.name === f.velocity);
    const v = k.fields[vel];
    if (!v) throw new Error(`${where}: velocity ${f.velocity}: no such field`);
    if (vel === i) throw new Error(`${where}: velocity ${f.velocity}: the field itself`);
    if (v.type !== "int") throw new Error(`${where}: velocity ${f.velocity}: not an int field`);
    if (v.ownerOnly && !f.ownerOnly) throw new Error(`${where}: velocity ${f.velocity}: owner-only, but the field is not`);
  }
  const asNumber = !any && min >= -SAFE && max <= SAFE;
  return { name: f.name, bytes: false, bits, signed, wrap, min, max, any, vel, ownerOnly: !!f.ownerOnly, maxLen: 0, asNumber };
}

function big(x: bigint | number | string | undefined): bigint {
  return x === undefined ? 0n : BigInt(x);
}

/**
 * layoutFromSchema maps a game schema's entity kinds onto a delta layout:
 * kinds in ascending kind id (kind index i on the wire is entities[i]),
 * fields in the schema's flattened order. bool: unsigned 1-bit int;
 * integers and enums: their width and sign (with a declared range, except
 * uint64); quantized floats: signed 64-bit ints counting quanta
 * (round(x/quantum)), narrowed to floor(min/quantum)..ceil(max/quantum) when
 * a range is declared (the rounded quanta of every value in the range);
 * string and bytes: bytes of their max_len; predict: the velocity field's
 * name; owner_only carries over. It is the Go node's mapping
 * (gameschema's Schema.DeltaLayout); the vectors test checks they agree.
 */
export function layoutFromSchema(s: Schema): Layout {
  return {
    kinds: s.entities.map((t) => ({
      name: t.name,
      fields: t.fields.map((f): LayoutField => {
        const base = { name: f.name, ownerOnly: f.ownerOnly, velocity: f.predict >= 0 ? t.fields[f.predict]!.name : undefined };
        switch (f.type) {
          case "string":
          case "bytes":
            return { ...base, type: "bytes", maxLen: f.maxLen };
          case "float32":
          case "float64":
            return {
              ...base, type: "int", bits: 64, signed: true,
              ...(f.range ? { min: BigInt(Math.floor((f.range.min as number) / f.quantum)), max: BigInt(Math.ceil((f.range.max as number) / f.quantum)) } : {}),
            };
          case "bool":
            return { ...base, type: "int", bits: 1 };
          default: {
            const bits = Number(f.type.replace(/^u?int/, ""));
            return {
              ...base, type: "int", bits, signed: !f.type.startsWith("u"),
              ...(f.range && f.type !== "uint64" ? { min: f.range.min as bigint, max: f.range.max as bigint } : {}),
            };
          }
        }
      }),
    })),
  };
}
