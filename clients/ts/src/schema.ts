// The game's schema as ticksync sees it, loaded from the compiled
// reflection schema (.bfbs) exactly as Go's schema/gameschema builds it:
// the marked tables (ticksync_entity, ticksync_input, ticksync_events,
// ticksync_join), their fields flattened to scalar leaves ("pos.x"), the
// attributes range, quantum, predict, owner_only, max_len and match_key,
// and the canonical text whose sha256 is the schema hash a server
// announces.

import { Reader, Table as FbTable } from "./bfbs.js";
import { SchemaError } from "./errors.js";
import { hex, sha256 } from "./sha256.js";

/** The role of a marked table. */
export type Role = "entity" | "input" | "event" | "join";

/** The wire type of a leaf field. */
export type FieldType =
  | "bool" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64"
  | "float32" | "float64" | "string" | "bytes";

const scalarTypes: FieldType[] = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"];

const typeSize: Record<FieldType, number> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8,
  float32: 4, float64: 8, string: 4, bytes: 4,
};

/** An enum used by some field. Values are sorted by value. */
export interface SchemaEnum {
  readonly name: string;
  readonly type: FieldType;
  readonly values: readonly { readonly name: string; readonly value: bigint }[];
  /** every value a distinct power of two: any combination of bits is valid */
  readonly bitFlags: boolean;
}

/** One leaf field of a table (Go: gameschema.Field). */
export interface SchemaField {
  readonly name: string; // dotted for struct leaves: "pointer.x"
  readonly index: number;
  readonly type: FieldType;
  readonly enum?: SchemaEnum;
  readonly id: number; // FlatBuffers field id (struct leaves share their struct's)
  readonly offset: number; // inside the struct; 0 for a table field
  readonly struct: number; // size of the enclosing struct field; 0 for a table field
  readonly align: number;
  /** default of an integer, enum or bool (uint64: its bits as an unsigned bigint) */
  readonly defaultInt: bigint;
  readonly defaultFloat: number;
  readonly required: boolean;
  /** declared range (bigint for integers, number for floats); undefined: the type's */
  readonly range?: { readonly min: bigint | number; readonly max: bigint | number };
  readonly quantum: number; // 0: none
  readonly predict: number; // index of the velocity field, -1: none
  readonly ownerOnly: boolean;
  /** join fields: matchmaking seats together only players with equal values */
  readonly matchKey: boolean;
  readonly maxLen: number; // string and bytes
}

/** A marked table with its fields flattened (Go: gameschema.Table). */
export interface SchemaTable {
  readonly name: string; // fully qualified, e.g. "arena.Avatar"
  readonly role: Role;
  readonly kind: number; // entity: its kind id; event: its union type; else 0
  readonly fields: readonly SchemaField[];
  readonly numSlots: number;
  field(name: string): SchemaField | undefined;
}

/** An events wrapper (Go: gameschema.Events). */
export interface SchemaEvents {
  readonly wrapper: string;
  readonly union: string;
  readonly tables: readonly SchemaTable[]; // tables[i].kind === i + 1
  /** the union's member names (e.g. "PlayCard"), members[i] naming tables[i] */
  readonly members: readonly string[];
  readonly typeSlot: number;
  readonly valueSlot: number;
}

/** A game's schema (Go: gameschema.Schema). */
export interface Schema {
  readonly name: string;
  /** the entity kinds by ascending kind id */
  readonly entities: readonly SchemaTable[];
  readonly input: SchemaTable;
  readonly join?: SchemaTable;
  readonly clientEvents?: SchemaEvents;
  readonly serverEvents?: SchemaEvents;
  /** the canonical text (schema/DESIGN.md, version 1) */
  readonly canonical: string;
  /** sha256 of canonical, lower-case hex: compare with the server's */
  readonly hash: string;
}

/** Limits, as Go's gameschema.DefaultConfig. */
export interface LoadOptions {
  /** cap of a string or bytes field without max_len (default 256) */
  defaultMaxLen?: number;
  /** most leaves of a table (default 256) */
  maxFields?: number;
  /** largest .bfbs accepted (default 1 MiB) */
  maxSchemaBytes?: number;
}

// reflection.BaseType
const BT = { UType: 1, Bool: 2, Double: 12, String: 13, Vector: 14, Obj: 15, Union: 16, Byte: 3, UByte: 4 } as const;

interface Attrs {
  range?: string;
  quantum?: string;
  predict?: string;
  maxLen?: string;
  ownerOnly: boolean;
  matchKey: boolean;
}

function kvs(t: FbTable, slot: number): [string, string][] {
  return t.tables(slot).map((kv) => [kv.str(0), kv.str(1)]);
}

function parseAttrs(list: [string, string][]): Attrs {
  const a: Attrs = { ownerOnly: false, matchKey: false };
  for (const [k, v] of list) {
    if (k === "range") a.range = v;
    else if (k === "quantum") a.quantum = v;
    else if (k === "predict") a.predict = v;
    else if (k === "max_len") a.maxLen = v;
    else if (k === "owner_only") a.ownerOnly = true;
    else if (k === "match_key") a.matchKey = true;
  }
  return a;
}

function namespace(name: string): string {
  const i = name.lastIndexOf(".");
  return i >= 0 ? name.slice(0, i) : "";
}

function err(table: string, field: string, msg: string): SchemaError {
  return new SchemaError(field ? `${table}.${field}: ${msg}` : `${table}: ${msg}`);
}

const i64min = -(1n << 63n), i64max = (1n << 63n) - 1n;

function limits(t: FieldType): [bigint, bigint] {
  switch (t) {
    case "bool": return [0n, 1n];
    case "int8": return [-128n, 127n];
    case "uint8": return [0n, 255n];
    case "int16": return [-32768n, 32767n];
    case "uint16": return [0n, 65535n];
    case "int32": return [-(1n << 31n), (1n << 31n) - 1n];
    case "uint32": return [0n, (1n << 32n) - 1n];
    case "int64": return [i64min, i64max];
    case "uint64": return [0n, (1n << 64n) - 1n];
  }
  return [0n, 0n];
}

const intRe = /^[-+]?[0-9]+$/;

/** Go's strconv.ParseFloat for the decimal forms a schema holds. */
function parseFloatStrict(s: string): number {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^[-+]?(inf|infinity|nan)$/i.test(s)) return NaN;
  return Number(s.replace(/^\+/, "").replace(/inf(inity)?$/i, "Infinity"));
}

class Loader {
  private readonly enums = new Map<number, SchemaEnum>();
  private readonly objects: FbTable[];
  private readonly enumTables: FbTable[];

  constructor(root: FbTable, private readonly opts: Required<LoadOptions>) {
    this.objects = root.tables(0);
    this.enumTables = root.tables(1);
  }

  load(): Schema {
    const entities: { obj: number; name: string; kind: number }[] = [];
    let input = -1, join = -1;
    const events = [-1, -1];
    const roles = new Map<number, string>();
    this.objects.forEach((o, i) => {
      const name = o.str(0);
      for (const [k, v] of kvs(o, 5)) {
        if (!k.startsWith("ticksync_")) continue;
        if (roles.has(i)) throw err(name, "", `marked both (${roles.get(i)}) and (${k})`);
        roles.set(i, k);
        if (o.bool(2)) throw err(name, "", `(${k}) marks a table, not a struct`);
        const once = (cur: number): number => {
          if (cur >= 0) throw err(name, "", `second table marked (${k})`);
          return i;
        };
        switch (k) {
          case "ticksync_entity": {
            const n = Number(v);
            if (!/^[1-9][0-9]*$/.test(v) || n > 65535) throw err(name, "", `(ticksync_entity: "${v}"): the kind id must be 1..65535`);
            if (entities.some((e) => e.kind === n)) throw err(name, "", `entity kind ${n} already used`);
            entities.push({ obj: i, name, kind: n });
            break;
          }
          case "ticksync_input": input = once(input); break;
          case "ticksync_join": join = once(join); break;
          case "ticksync_events":
            if (v === "client") events[0] = once(events[0]!);
            else if (v === "server") events[1] = once(events[1]!);
            else throw err(name, "", `(ticksync_events: "${v}"): must be "client" or "server"`);
            break;
          default:
            throw err(name, "", `unknown attribute ${k}`);
        }
      }
    });
    if (input < 0) throw new SchemaError("no table marked (ticksync_input)");
    if (entities.length === 0) throw new SchemaError('no table marked (ticksync_entity: "kind")');
    const inputName = this.objects[input]!.str(0);
    const name = namespace(inputName);
    if (name === "") throw err(inputName, "", "declare a namespace: it names the game's schema");
    for (const o of [input, join, events[0]!, events[1]!, ...entities.map((e) => e.obj)]) {
      if (o >= 0 && namespace(this.objects[o]!.str(0)) !== name) {
        throw err(this.objects[o]!.str(0), "", `every marked table must be in namespace ${name}`);
      }
    }
    entities.sort((a, b) => a.kind - b.kind);
    const marked = new Set(roles.keys());
    const s = {
      name,
      entities: entities.map((e) => this.table(e.obj, "entity", e.kind)),
      input: this.table(input, "input", 0),
      join: join >= 0 ? this.table(join, "join", 0) : undefined,
      clientEvents: events[0]! >= 0 ? this.events(events[0]!, marked) : undefined,
      serverEvents: events[1]! >= 0 ? this.events(events[1]!, marked) : undefined,
      canonical: "",
      hash: "",
    };
    s.canonical = canonical(s);
    s.hash = hex(sha256(new TextEncoder().encode(s.canonical)));
    return s;
  }

  private events(oi: number, marked: Set<number>): SchemaEvents {
    const o = this.objects[oi]!;
    const name = o.str(0);
    let utype = -1, union = -1, uenum = -1;
    for (const f of o.tables(1)) {
      if (f.bool(6)) continue;
      const t = f.table(1);
      const bt = t ? t.u8(0) : 0;
      const id = f.u16(2);
      if (bt === BT.UType) utype = id;
      else if (bt === BT.Union) {
        if (union >= 0) throw err(name, f.str(0), "a (ticksync_events) table holds exactly one union field");
        union = id;
        uenum = t!.i32(2, -1);
      } else throw err(name, f.str(0), "a (ticksync_events) table holds only its union field");
    }
    if (union < 0 || utype !== union - 1) throw err(name, "", "a (ticksync_events) table holds exactly one union field");
    const e = this.enumTables[uenum];
    if (!e || !e.bool(2)) throw err(name, "", `union index ${uenum} out of range`);
    const ev = { wrapper: name, union: e.str(0), tables: [] as SchemaTable[], members: [] as string[], typeSlot: utype, valueSlot: union };
    for (const v of e.tables(1)) {
      const val = v.i64(1);
      if (val === 0n) continue;
      if (val !== BigInt(ev.tables.length + 1) || ev.tables.length >= 255) {
        throw err(ev.union, v.str(0), "members must be numbered 1, 2, 3... up to 255");
      }
      const ut = v.table(3);
      const idx = ut ? ut.i32(2, -1) : -1;
      const mo = this.objects[idx];
      if (!ut || ut.u8(0) !== BT.Obj || !mo || mo.bool(2)) throw err(ev.union, v.str(0), "an event union holds tables only");
      if (marked.has(idx)) throw err(mo.str(0), "", "an event table cannot also be a marked table");
      ev.members.push(v.str(0));
      ev.tables.push(this.table(idx, "event", ev.tables.length + 1));
    }
    if (ev.tables.length === 0) throw err(ev.union, "", "the event union has no members");
    return ev;
  }

  private table(oi: number, role: Role, kind: number): SchemaTable {
    const o = this.objects[oi];
    if (!o) throw new SchemaError(`object index ${oi} out of range`);
    const name = o.str(0);
    if (o.bool(2)) throw err(name, "", "a struct cannot be marked");
    const fields: SchemaField[] = [];
    const predicts: { field: string; target: string; first: number; last: number }[] = [];
    let numSlots = 0;
    const list: { id: number; f: FbTable }[] = [];
    const seen = new Set<number>();
    for (const f of o.tables(1)) {
      const id = f.u16(2);
      if (seen.has(id)) throw err(name, f.str(0), `field id ${id} twice`);
      seen.add(id);
      if (f.u16(3) !== 4 + 2 * id) throw err(name, f.str(0), `vtable offset does not match id ${id}`);
      if (id >= 4096) throw err(name, f.str(0), `field id ${id}: at most 4095`);
      numSlots = Math.max(numSlots, id + 1);
      if (!f.bool(6)) list.push({ id, f });
    }
    list.sort((a, b) => a.id - b.id);
    for (const { id, f } of list) {
      const fname = f.str(0);
      const a = parseAttrs(kvs(f, 9));
      if ((a.ownerOnly || a.predict !== undefined) && role !== "entity") {
        throw err(name, fname, `(${a.predict !== undefined ? "predict" : "owner_only"}) on a field of a ${role} table`);
      }
      if (a.matchKey && role !== "join") throw err(name, fname, `(match_key) on a field of a ${role} table`);
      const t = f.table(1);
      if (!t) throw err(name, fname, "no type");
      const bt = t.u8(0);
      const first = fields.length;
      if (f.bool(11) && bt >= BT.Bool && bt <= BT.Double) throw err(name, fname, "optional scalars are not supported");
      if (bt >= BT.Bool && bt <= BT.Double) {
        const st = scalarTypes[bt - BT.Bool]!;
        this.leaf(name, fields, {
          name: fname, type: st, id, offset: 0, struct: 0, align: typeSize[st], enumIndex: t.i32(2, -1),
          defaultInt: f.i64(4), defaultFloat: f.f64(5), ownerOnly: a.ownerOnly, matchKey: a.matchKey, required: false,
        }, a);
      } else if (bt === BT.String || bt === BT.Vector) {
        let st: FieldType = "string";
        if (bt === BT.Vector) {
          const el = t.u8(1);
          if ((el !== BT.Byte && el !== BT.UByte) || t.i32(2, -1) >= 0) throw err(name, fname, "only vectors of bytes are supported");
          st = "bytes";
        }
        this.leaf(name, fields, {
          name: fname, type: st, id, offset: 0, struct: 0, align: 4, enumIndex: -1,
          defaultInt: 0n, defaultFloat: 0, ownerOnly: a.ownerOnly, matchKey: a.matchKey, required: f.bool(7),
        }, a);
      } else if (bt === BT.Obj) {
        const so = this.objects[t.i32(2, -1)];
        if (!so) throw err(name, fname, "object index out of range");
        if (!so.bool(2)) throw err(name, fname, "nested tables are not supported");
        if (a.maxLen !== undefined) throw err(name, fname, "max_len on a struct");
        const size = so.i32(4), align = so.i32(3);
        this.flatten(name, fields, so, fname, 0, 1, a, id, size, align);
      } else {
        throw err(name, fname, `base type ${bt} is not supported`);
      }
      if (a.predict !== undefined) predicts.push({ field: fname, target: a.predict, first, last: fields.length });
    }
    // Resolve predict: the velocity table field's leaves pair in order.
    const out = fields.map((f, i) => ({ ...f, index: i }));
    for (const p of predicts) {
      const vf = list.find((x) => x.f.str(0) === p.target);
      if (!vf) throw err(name, p.field, `(predict: "${p.target}"): no such field`);
      const vleaves = out.filter((f) => f.name === p.target || f.name.startsWith(p.target + "."));
      if (vleaves.length !== p.last - p.first) throw err(name, p.field, `(predict: "${p.target}"): leaves do not pair`);
      for (let j = p.first; j < p.last; j++) {
        const v = vleaves[j - p.first]!;
        const lt = out[j]!.type;
        if (!isNumeric(v.type) || v.enum || !isNumeric(lt)) throw err(name, p.field, `(predict: "${p.target}"): velocity must be numeric`);
        out[j]!.predict = v.index;
      }
    }
    if (out.length > this.opts.maxFields) throw err(name, "", `more than ${this.opts.maxFields} fields`);
    return {
      name, role, kind, fields: out, numSlots,
      field(n: string) { return out.find((f) => f.name === n); },
    };
  }

  private flatten(table: string, fields: MutableField[], so: FbTable, prefix: string, base: number, depth: number,
    outer: Attrs, id: number, size: number, align: number): void {
    if (depth > 8) throw err(table, prefix, "structs nest more than 8 deep");
    const list = so.tables(1).map((f) => ({ off: f.u16(3), f })).sort((a, b) => a.off - b.off);
    for (const { off, f } of list) {
      const name = prefix + "." + f.str(0);
      const own = parseAttrs(kvs(f, 9));
      if (own.matchKey) throw err(table, name, "(match_key) goes on the table's field, not inside the struct");
      const t = f.table(1);
      if (!t) throw err(table, name, "no type");
      const bt = t.u8(0);
      const a: Attrs = { ...outer };
      const enumIndex = t.i32(2, -1);
      if (bt === BT.Bool || (bt > BT.Bool && bt <= BT.Double && enumIndex >= 0)) {
        a.quantum = undefined;
        a.range = undefined;
      }
      if (own.range !== undefined) a.range = own.range;
      if (own.quantum !== undefined) a.quantum = own.quantum;
      if (bt >= BT.Bool && bt <= BT.Double) {
        const st = scalarTypes[bt - BT.Bool]!;
        this.leaf(table, fields, {
          name, type: st, id, offset: base + off, struct: size, align, enumIndex,
          defaultInt: f.i64(4), defaultFloat: f.f64(5), ownerOnly: outer.ownerOnly, matchKey: outer.matchKey, required: false,
        }, { ...a, maxLen: undefined, predict: undefined });
        continue;
      }
      const sub = this.objects[enumIndex];
      if (bt !== BT.Obj || !sub || !sub.bool(2)) throw err(table, name, "a struct holds scalars and structs only");
      this.flatten(table, fields, sub, name, base + off, depth + 1, a, id, size, align);
    }
  }

  private leaf(table: string, fields: MutableField[], f: LeafInit, a: Attrs): void {
    const isText = f.type === "string" || f.type === "bytes";
    const out: MutableField = {
      name: f.name, index: 0, type: f.type, id: f.id, offset: f.offset, struct: f.struct, align: f.align,
      defaultInt: f.defaultInt, defaultFloat: f.defaultFloat, required: f.required, quantum: 0, predict: -1,
      ownerOnly: f.ownerOnly, matchKey: f.matchKey, maxLen: 0,
    };
    if (f.enumIndex >= 0) out.enum = this.enumOf(f.enumIndex, f.type, table, f.name);
    if (a.maxLen !== undefined && !isText) throw err(table, f.name, "max_len on a field that is not a string or bytes");
    if (a.quantum !== undefined && (!isNumeric(f.type) || out.enum)) throw err(table, f.name, "quantum on a field that is not a number");
    if (a.range !== undefined && (isText || f.type === "bool" || out.enum)) throw err(table, f.name, "range on a field that takes none");
    if (isText) {
      out.maxLen = this.opts.defaultMaxLen;
      if (a.maxLen !== undefined) {
        const n = Number(a.maxLen);
        if (!/^[0-9]+$/.test(a.maxLen) || n < 1 || n > 65536) throw err(table, f.name, `max_len "${a.maxLen}": must be 1..65536`);
        out.maxLen = n;
      }
      fields.push(out);
      return;
    }
    if (a.quantum !== undefined) {
      const q = parseFloatStrict(a.quantum);
      if (!(q > 0) || !Number.isFinite(q)) throw err(table, f.name, `quantum "${a.quantum}": must be a positive number`);
      out.quantum = q;
    }
    if (isFloat(f.type) && out.quantum === 0) throw err(table, f.name, "a float needs a quantum");
    if (f.type === "float32") out.defaultFloat = Math.fround(out.defaultFloat);
    if (f.type === "uint64") out.defaultInt = BigInt.asUintN(64, out.defaultInt);
    if (a.range !== undefined) {
      const m = /^(.*)\.\.(.*)$/.exec(a.range);
      const bad = (why: string) => err(table, f.name, `range "${a.range}": ${why}`);
      if (!m) throw bad('must be "lo..hi"');
      const [lo, hi] = [m[1]!, m[2]!];
      if (isFloat(f.type)) {
        const l = parseFloatStrict(lo), h = parseFloatStrict(hi);
        if (!Number.isFinite(l) || !Number.isFinite(h)) throw bad("bounds must be finite numbers");
        if (l > h) throw bad("lo above hi");
        out.range = { min: l, max: h };
      } else {
        if (!intRe.test(lo) || !intRe.test(hi)) throw bad("bounds must be integers");
        const l = BigInt(lo), h = BigInt(hi);
        const [tl, th] = limits(f.type);
        if (l < tl || h > th) throw bad(`outside what a ${f.type} holds`);
        if (l > h) throw bad("lo above hi");
        out.range = { min: l, max: h };
      }
    }
    fields.push(out);
  }

  private enumOf(i: number, st: FieldType, table: string, field: string): SchemaEnum {
    const have = this.enums.get(i);
    if (have) {
      if (have.type !== st) throw err(table, field, `enum ${have.name} used with two types`);
      return have;
    }
    const e = this.enumTables[i];
    if (!e || e.bool(2)) throw err(table, field, `enum index ${i} out of range`);
    if (!isInteger(st)) throw err(table, field, "an enum must be an integer type");
    const values = e.tables(1).map((v) => ({ name: v.str(0), value: v.i64(1) }));
    if (values.length === 0) throw err(table, field, `enum ${e.str(0)} has no values`);
    values.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    let bitFlags = true;
    values.forEach((v, j) => {
      if (v.value <= 0n || (v.value & (v.value - 1n)) !== 0n) bitFlags = false;
      if (j > 0 && values[j - 1]!.value === v.value) bitFlags = false;
    });
    const out: SchemaEnum = { name: e.str(0), type: st, values, bitFlags };
    this.enums.set(i, out);
    return out;
  }
}

type MutableField = { -readonly [K in keyof SchemaField]: SchemaField[K] };

interface LeafInit {
  name: string; type: FieldType; id: number; offset: number; struct: number; align: number; enumIndex: number;
  defaultInt: bigint; defaultFloat: number; ownerOnly: boolean; matchKey: boolean; required: boolean;
}

function isFloat(t: FieldType): boolean { return t === "float32" || t === "float64"; }
function isInteger(t: FieldType): boolean { return t !== "bool" && !isFloat(t) && t !== "string" && t !== "bytes"; }
function isNumeric(t: FieldType): boolean { return isInteger(t) || isFloat(t); }

/**
 * loadSchema reads a compiled schema (.bfbs) and builds its model, with the
 * same canonical text and hash as Go's gameschema.Load. It throws a
 * SchemaError for a file it cannot read or does not accept. Go's loader is
 * the authority on what a server accepts; this one checks bounds and the
 * rules that shape the model, not every limit Go enforces.
 */
export function loadSchema(bfbs: Uint8Array, options: LoadOptions = {}): Schema {
  const opts: Required<LoadOptions> = { defaultMaxLen: 256, maxFields: 256, maxSchemaBytes: 1 << 20, ...options };
  if (bfbs.length > opts.maxSchemaBytes) throw new SchemaError(`schema of ${bfbs.length} bytes: larger than ${opts.maxSchemaBytes}`);
  if (bfbs.length < 8) throw new SchemaError("schema too short");
  return new Loader(new Reader(bfbs).root(), opts).load();
}

/** Go's strconv.FormatFloat(x, 'g', -1, 64): the shortest decimal that reads back exactly. */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expS] = x.toExponential().split("e") as [string, string];
  const exp = Number(expS);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let s: string;
  if (exp < -4 || exp >= 6) {
    // %e with the shortest digits, the exponent at least two digits
    s = digits[0]! + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
  } else if (exp >= digits.length - 1) {
    s = digits + "0".repeat(exp - digits.length + 1);
  } else if (exp >= 0) {
    s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  } else {
    s = "0." + "0".repeat(-exp - 1) + digits;
  }
  return (neg ? "-" : "") + s;
}

/** canonical writes the canonical text of s (schema/DESIGN.md, version 1). */
function canonical(s: Omit<Schema, "canonical" | "hash">): string {
  let b = "ticksync-schema 1\n";
  b += `name ${s.name}\n`;
  const enums = new Map<string, SchemaEnum>();
  const table = (t: SchemaTable) => {
    b += `table ${t.name} ${t.role} ${t.kind} slots=${t.numSlots}\n`;
    for (const f of t.fields) {
      b += `  ${f.index} ${f.name} ${f.type} id=${f.id}`;
      if (f.struct !== 0) b += ` struct=${f.struct} align=${f.align} off=${f.offset}`;
      if (f.enum) {
        b += ` enum=${f.enum.name}`;
        enums.set(f.enum.name, f.enum);
      }
      if (f.type === "string" || f.type === "bytes") {
        b += ` max_len=${f.maxLen}`;
        if (f.required) b += " required";
      } else if (isFloat(f.type)) {
        b += ` default=${formatFloat(f.defaultFloat)}`;
        if (f.range) b += ` range=${formatFloat(f.range.min as number)}..${formatFloat(f.range.max as number)}`;
      } else {
        b += ` default=${f.defaultInt}`;
        if (f.range) b += ` range=${f.range.min}..${f.range.max}`;
      }
      if (f.quantum !== 0) b += ` quantum=${formatFloat(f.quantum)}`;
      if (f.predict >= 0) b += ` predict=${f.predict}`;
      if (f.ownerOnly) b += " owner_only";
      if (f.matchKey) b += " match_key";
      b += "\n";
    }
  };
  s.entities.forEach(table);
  table(s.input);
  if (s.join) table(s.join);
  for (const [dir, e] of [["client", s.clientEvents], ["server", s.serverEvents]] as const) {
    if (!e) continue;
    b += `events ${dir} ${e.wrapper} ${e.union} type=${e.typeSlot} value=${e.valueSlot}\n`;
    e.tables.forEach(table);
  }
  for (const n of [...enums.keys()].sort(cmpBytes)) {
    const e = enums.get(n)!;
    b += `enum ${e.name} ${e.type}`;
    if (e.bitFlags) b += " bit_flags";
    for (const v of e.values) b += ` ${v.name}=${v.value}`;
    b += "\n";
  }
  return b;
}

/** cmpBytes orders strings by their UTF-8 bytes, as Go's sort does. */
function cmpBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
