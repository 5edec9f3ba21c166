// A game's own tables as plain values: building inputs, client events and
// join payloads from values by field name (the TypeScript side of Go's
// gameschema.Table.Build and Events.Build), and reading server events back
// (bounds-checked, like Go's Decode).
//
// Values are keyed by the schema's leaf names: struct fields flattened with
// dots ("pointer.x"), as the schema's model, the delta layout and Go's
// gameschema name them. Building also takes nested objects for struct
// fields ({ pointer: { x: 1, y: 2, z: 0 } }). A field's value:
//
//   - bool: boolean;
//   - an integer or enum without a quantum: number (enums by value; building
//     also takes the member's name), or bigint for 64-bit fields whose
//     values are not all safe integers (uint64, int64 without a range within
//     ±(2^53−1));
//   - an integer with a quantum (fixed point): its real value, a number
//     (value × quantum; building rounds value / quantum);
//   - a float: a number. In a table it travels as a float (building writes
//     the number given); in the delta world it travels in quanta and reads
//     back as quanta × quantum;
//   - string: string; [ubyte]: Uint8Array.

import { Reader, type Table as FbReadTable } from "./bfbs.js";
import { ProtocolError } from "./errors.js";
import { FbTable, finish } from "./fbwriter.js";
import type { FieldType, SchemaEvents, SchemaField, SchemaTable } from "./schema.js";

/** A field's value (see the module comment). */
export type FieldValue = number | bigint | boolean | string | Uint8Array;

/** A table's values by leaf name ("pointer.x"). */
export type Values = Record<string, FieldValue>;

/** What building takes: leaf names, or nested objects for struct fields. */
export interface ValuesInput {
  readonly [name: string]: FieldValue | ValuesInput | undefined;
}

/** A decoded game event: the union member's name, its table and its values. */
export interface DecodedEvent {
  /** the union member's name, e.g. "Trick" */
  readonly name: string;
  /** the member's table, e.g. "cards.Trick" */
  readonly table: string;
  readonly values: Values;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder("utf-8", { fatal: true });
const text = new TextDecoder(); // world strings: replacement characters for bad bytes, as Entity.text
const utf8enc = new TextEncoder();

const typeSize: Partial<Record<FieldType, number>> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8,
};

function limits(t: FieldType): [bigint, bigint] {
  switch (t) {
    case "bool": return [0n, 1n];
    case "int8": return [-128n, 127n];
    case "uint8": return [0n, 255n];
    case "int16": return [-32768n, 32767n];
    case "uint16": return [0n, 65535n];
    case "int32": return [-(1n << 31n), (1n << 31n) - 1n];
    case "uint32": return [0n, (1n << 32n) - 1n];
    case "int64": return [-(1n << 63n), (1n << 63n) - 1n];
    default: return [0n, (1n << 64n) - 1n];
  }
}

function isFloat(f: SchemaField): boolean { return f.type === "float32" || f.type === "float64"; }
function isRef(f: SchemaField): boolean { return f.type === "string" || f.type === "bytes"; }

/**
 * isBigField tells whether an integer field reads as a bigint: a 64-bit
 * field without a quantum whose values are not all safe integers (every
 * uint64; an int64 without a declared range within ±(2^53−1)). The same
 * rule as the delta world's (CodecField.asNumber), fixed per field.
 */
export function isBigField(f: SchemaField): boolean {
  if (f.quantum !== 0) return false;
  if (f.type === "uint64") return true;
  if (f.type !== "int64") return false;
  return !(f.range && (f.range.min as bigint) >= -SAFE && (f.range.max as bigint) <= SAFE);
}

/**
 * intValue turns an integer-like field's wire value (bits as a bigint:
 * unsigned types non-negative, uint64 possibly as the int64 of its bits)
 * into its FieldValue.
 */
export function intValue(f: SchemaField, x: bigint): FieldValue {
  if (f.type === "bool") return x !== 0n;
  if (f.type === "uint64") x = BigInt.asUintN(64, x);
  if (f.quantum !== 0) return Number(x) * f.quantum;
  return isBigField(f) ? x : Number(x);
}

/** worldValue turns a delta world's raw value of field f (layoutFromSchema's mapping) into its FieldValue. */
export function worldValue(f: SchemaField, raw: bigint | Uint8Array): FieldValue {
  if (raw instanceof Uint8Array) return f.type === "string" ? text.decode(raw) : raw;
  if (isFloat(f)) return Number(raw) * f.quantum; // quanta
  return intValue(f, raw);
}

/** defaultValue is what an absent field reads as. */
export function defaultValue(f: SchemaField): FieldValue {
  if (f.type === "string") return "";
  if (f.type === "bytes") return new Uint8Array(0);
  if (isFloat(f)) return f.defaultFloat;
  return intValue(f, f.defaultInt);
}

// ---- building ---------------------------------------------------------------

function flatten(v: ValuesInput, prefix: string, out: Map<string, FieldValue>): void {
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined) continue;
    const name = prefix === "" ? k : `${prefix}.${k}`;
    if (x instanceof Uint8Array || typeof x !== "object") out.set(name, x);
    else flatten(x, name, out);
  }
}

function where(t: SchemaTable, f: SchemaField): string { return `${t.name}.${f.name}`; }

/** intWire checks and converts a value of an integer-like field to its wire bits. */
function intWire(t: SchemaTable, f: SchemaField, v: FieldValue): bigint {
  let x: bigint;
  if (typeof v === "string" && f.enum) {
    const m = f.enum.values.find((e) => e.name === v);
    if (!m) throw new RangeError(`${where(t, f)}: ${v} is not a member of ${f.enum.name}`);
    x = m.value;
  } else if (typeof v === "boolean") {
    x = v ? 1n : 0n;
  } else if (typeof v === "number" || typeof v === "bigint") {
    if (f.quantum !== 0) {
      const q = Math.round(Number(v) / f.quantum);
      if (!Number.isSafeInteger(q)) throw new RangeError(`${where(t, f)}: ${v} / ${f.quantum} is not a safe integer`);
      x = BigInt(q);
    } else if (typeof v === "bigint") {
      x = v;
    } else {
      if (!Number.isSafeInteger(v)) throw new RangeError(`${where(t, f)}: ${v} is not an integer`);
      x = BigInt(v);
    }
  } else {
    throw new TypeError(`${where(t, f)}: a ${f.type} takes a number, not ${typeof v}`);
  }
  if (f.type === "uint64" && x < 0n && x >= -(1n << 63n)) x = BigInt.asUintN(64, x); // the int64 of its bits
  const [lo, hi] = limits(f.type);
  if (x < lo || x > hi) throw new RangeError(`${where(t, f)}: ${x} does not fit a ${f.type}`);
  if (f.range && !isFloat(f) && (x < (f.range.min as bigint) || x > (f.range.max as bigint))) {
    throw new RangeError(`${where(t, f)}: ${x}: must be ${f.range.min}..${f.range.max}`);
  }
  if (f.enum) {
    const e = f.enum;
    if (e.bitFlags) {
      const all = e.values.reduce((a, m) => a | m.value, 0n);
      if ((x & ~all) !== 0n) throw new RangeError(`${where(t, f)}: ${x} has bits outside ${e.name}`);
    } else if (!e.values.some((m) => m.value === x)) {
      throw new RangeError(`${where(t, f)}: ${x} is not a value of ${e.name}`);
    }
  }
  return x;
}

function floatWire(t: SchemaTable, f: SchemaField, v: FieldValue): number {
  if (typeof v !== "number" && typeof v !== "bigint") throw new TypeError(`${where(t, f)}: a ${f.type} takes a number, not ${typeof v}`);
  let x = Number(v);
  if (f.type === "float32") x = Math.fround(x);
  if (!Number.isFinite(x)) throw new RangeError(`${where(t, f)}: ${v}: must be finite`);
  if (f.range && (x < (f.range.min as number) || x > (f.range.max as number))) {
    throw new RangeError(`${where(t, f)}: ${x}: must be ${f.range.min}..${f.range.max}`);
  }
  return x;
}

function refWire(t: SchemaTable, f: SchemaField, v: FieldValue): Uint8Array {
  let b: Uint8Array;
  if (typeof v === "string") b = utf8enc.encode(v);
  else if (v instanceof Uint8Array) b = v;
  else throw new TypeError(`${where(t, f)}: a ${f.type} takes ${f.type === "string" ? "a string" : "a Uint8Array"}, not ${typeof v}`);
  if (b.length > f.maxLen) throw new RangeError(`${where(t, f)}: ${b.length} bytes: must be at most ${f.maxLen}`);
  if (f.type === "string" && typeof v !== "string") {
    try {
      utf8.decode(b);
    } catch {
      throw new RangeError(`${where(t, f)}: not UTF-8`);
    }
  }
  return b;
}

/** putLeaf writes one scalar (wire value: bigint bits, or a float) little-endian at dv[off]. */
function putLeaf(dv: DataView, off: number, f: SchemaField, w: bigint | number): void {
  if (f.type === "float32") return dv.setFloat32(off, w as number, true);
  if (f.type === "float64") return dv.setFloat64(off, w as number, true);
  const x = w as bigint;
  switch (typeSize[f.type]) {
    case 1: return dv.setUint8(off, Number(BigInt.asUintN(8, x)));
    case 2: return dv.setUint16(off, Number(BigInt.asUintN(16, x)), true);
    case 4: return dv.setUint32(off, Number(BigInt.asUintN(32, x)), true);
    default: return dv.setBigUint64(off, BigInt.asUintN(64, x), true);
  }
}

function scalarWire(t: SchemaTable, f: SchemaField, v: FieldValue | undefined): bigint | number {
  if (v === undefined) return isFloat(f) ? f.defaultFloat : f.defaultInt;
  return isFloat(f) ? floatWire(t, f, v) : intWire(t, f, v);
}

/**
 * buildTable describes values as a table of t (Go: gameschema.Table.Build):
 * fields absent or equal to their default are omitted, struct fields are
 * always written (absent leaves as their defaults). It throws a TypeError
 * or RangeError for a name t does not have or a value its field does not
 * take (type, range, enum, length, a required string missing), so a bad
 * value fails here rather than on the node.
 */
export function buildTable(t: SchemaTable, values: ValuesInput = {}): FbTable {
  const m = new Map<string, FieldValue>();
  flatten(values, "", m);
  for (const k of m.keys()) {
    if (!t.field(k)) throw new TypeError(`${t.name} has no field ${k}`);
  }
  const tb = new FbTable();
  for (let i = 0; i < t.fields.length;) {
    const f = t.fields[i]!;
    if (f.struct !== 0) {
      const tmp = new Uint8Array(f.struct);
      const dv = new DataView(tmp.buffer);
      let j = i;
      for (; j < t.fields.length && t.fields[j]!.id === f.id; j++) {
        const g = t.fields[j]!;
        putLeaf(dv, g.offset, g, scalarWire(t, g, m.get(g.name)));
      }
      tb.struct(f.id, tmp, f.align);
      i = j;
      continue;
    }
    i++;
    const v = m.get(f.name);
    if (isRef(f)) {
      if (v === undefined) {
        if (f.required) throw new TypeError(`${where(t, f)}: required`);
        continue;
      }
      const b = refWire(t, f, v);
      if (f.type === "string") tb.str(f.id, b);
      else tb.bytes(f.id, b);
      continue;
    }
    if (v === undefined) continue;
    const w = scalarWire(t, f, v);
    if (w === (isFloat(f) ? f.defaultFloat : f.defaultInt)) continue;
    const size = typeSize[f.type]!;
    const tmp = new Uint8Array(size);
    putLeaf(new DataView(tmp.buffer), 0, f, w);
    tb.struct(f.id, tmp, size);
  }
  return tb;
}

/** encodeTable writes values as a buffer whose root is a table of t. */
export function encodeTable(t: SchemaTable, values: ValuesInput = {}): Uint8Array {
  return finish(buildTable(t, values));
}

/**
 * eventMember finds an event by its union member's name ("PlayCard") or its
 * table's name ("cards.PlayCard" or "PlayCard") and returns its index in
 * ev.tables, or -1.
 */
export function eventMember(ev: SchemaEvents, name: string): number {
  let i = ev.members.indexOf(name);
  if (i < 0) i = ev.tables.findIndex((t) => t.name === name || t.name.endsWith("." + name));
  return i;
}

/**
 * encodeEvent writes one event of the union ev (Go: gameschema.Events.Build):
 * the wrapper table holding the member called name with values.
 */
export function encodeEvent(ev: SchemaEvents, name: string, values: ValuesInput = {}): Uint8Array {
  const i = eventMember(ev, name);
  const t = ev.tables[i];
  if (!t) throw new TypeError(`${ev.union} has no member ${name} (members: ${ev.members.join(", ")})`);
  const w = new FbTable().u8(ev.typeSlot, t.kind).table(ev.valueSlot, buildTable(t, values));
  return finish(w);
}

// ---- reading ----------------------------------------------------------------

function reader(buf: Uint8Array, what: string): Reader {
  const r = new Reader(buf, (m) => new ProtocolError(`${what}: ${m}`), what);
  if (buf.length < 8) throw new ProtocolError(`${what}: buffer of ${buf.length} bytes: shorter than 8`);
  return r;
}

function readInt(r: Reader, p: number, f: SchemaField): bigint {
  switch (f.type) {
    case "bool": {
      const b = r.u8(p);
      if (b > 1) throw r.fail(`${f.name}: bool byte ${b}`);
      return BigInt(b);
    }
    case "int8": return BigInt(r.i8(p));
    case "uint8": return BigInt(r.u8(p));
    case "int16": return BigInt(r.i16(p));
    case "uint16": return BigInt(r.u16(p));
    case "int32": return BigInt(r.i32(p));
    case "uint32": return BigInt(r.u32(p));
    case "int64": return r.i64(p);
    default: return r.u64(p);
  }
}

/** readTable reads the fields of t from the table tb of r (absent fields as their defaults). */
export function readTable(t: SchemaTable, tb: FbReadTable, r: Reader): Values {
  const out: Values = {};
  for (const f of t.fields) {
    const p = tb.off(f.id);
    if (p === 0) {
      if (f.required) throw r.fail(`${where(t, f)}: required field missing`);
      out[f.name] = defaultValue(f);
      continue;
    }
    if (f.type === "string") {
      const s = r.str(p + r.u32(p));
      out[f.name] = s;
    } else if (f.type === "bytes") {
      out[f.name] = r.vec(p + r.u32(p)).slice();
    } else if (f.type === "float32") {
      out[f.name] = r.f32(p + f.offset);
    } else if (f.type === "float64") {
      out[f.name] = r.f64(p + f.offset);
    } else {
      out[f.name] = intValue(f, readInt(r, p + f.offset, f));
    }
  }
  return out;
}

/** decodeTable reads a buffer whose root is a table of t. It throws a ProtocolError for damaged bytes. */
export function decodeTable(t: SchemaTable, buf: Uint8Array): Values {
  const r = reader(buf, t.name);
  return readTable(t, r.root(), r);
}

/** decodeEvent reads an event buffer of the union ev (its wrapper table). It throws a ProtocolError for damaged bytes. */
export function decodeEvent(ev: SchemaEvents, buf: Uint8Array): DecodedEvent {
  const r = reader(buf, ev.wrapper);
  const w = r.root();
  const type = w.u8(ev.typeSlot);
  const t = ev.tables[type - 1];
  if (!t) throw new ProtocolError(`${ev.wrapper}: event type ${type}: must be 1..${ev.tables.length}`);
  const m = w.table(ev.valueSlot);
  if (!m) throw new ProtocolError(`${ev.wrapper}: event type ${type} without a value`);
  return { name: ev.members[type - 1]!, table: t.name, values: readTable(t, m, r) };
}
