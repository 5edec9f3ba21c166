// A small FlatBuffers writer: the client's messages and a game's own tables
// (inputs, events, join payloads) are described as trees of FbTable and
// written front to back in one pass by finish.
//
// Layout, as every FlatBuffers reader expects: the root uoffset (and the
// file identifier) first; each table preceded by its vtable (the table's
// soffset is positive: the vtable lies before it); the table's inline
// fields sorted by size, each aligned to its size relative to the start of
// the buffer (the table itself aligned to its largest field); strings,
// byte vectors and sub-tables after the table that refers to them (every
// uoffset points forward). Alignment is relative to the buffer's start, as
// the verifiers check it (Go's schema and gameschema packages).

const utf8 = new TextEncoder();

/** A string, a [ubyte] vector, a vector of tables or a table: what a field can refer to. */
export type FbRef = { readonly str: Uint8Array } | { readonly bytes: Uint8Array } | { readonly tables: readonly FbTable[] } | FbTable;

/** One inline field of an FbTable: a scalar or struct written in place, or a uoffset to ref. */
export interface Inline {
  readonly slot: number;
  readonly size: number;
  readonly align: number;
  readonly write?: (dv: DataView, pos: number) => void;
  readonly ref?: FbRef;
}

/** FbTable is one table to write: scalar, struct and reference fields by slot (field id). */
export class FbTable {
  private readonly fields: Inline[] = [];

  private add(f: Inline): this {
    if (!Number.isInteger(f.slot) || f.slot < 0 || f.slot > 0x7ffe) throw new RangeError(`field slot ${f.slot}`);
    if (this.fields.some((g) => g.slot === f.slot)) throw new Error(`field slot ${f.slot} written twice`);
    this.fields.push(f);
    return this;
  }

  bool(slot: number, v: boolean): this { return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setUint8(p, v ? 1 : 0) }); }
  i8(slot: number, v: number): this { return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setInt8(p, v) }); }
  u8(slot: number, v: number): this { return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setUint8(p, v) }); }
  i16(slot: number, v: number): this { return this.add({ slot, size: 2, align: 2, write: (d, p) => d.setInt16(p, v, true) }); }
  u16(slot: number, v: number): this { return this.add({ slot, size: 2, align: 2, write: (d, p) => d.setUint16(p, v, true) }); }
  i32(slot: number, v: number): this { return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setInt32(p, v, true) }); }
  u32(slot: number, v: number): this { return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setUint32(p, v, true) }); }
  i64(slot: number, v: bigint): this { return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setBigInt64(p, v, true) }); }
  u64(slot: number, v: bigint): this { return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setBigUint64(p, v, true) }); }
  f32(slot: number, v: number): this { return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setFloat32(p, v, true) }); }
  f64(slot: number, v: number): this { return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setFloat64(p, v, true) }); }

  /** struct writes a struct field: its bytes as laid out by the schema, aligned to align. */
  struct(slot: number, bytes: Uint8Array, align: number): this {
    const b = bytes.slice();
    return this.add({ slot, size: b.length, align, write: (d, p) => new Uint8Array(d.buffer, d.byteOffset + p, b.length).set(b) });
  }

  /** str writes a string field (UTF-8). */
  str(slot: number, s: string | Uint8Array): this {
    return this.add({ slot, size: 4, align: 4, ref: { str: typeof s === "string" ? utf8.encode(s) : s } });
  }

  /** bytes writes a [ubyte] field. */
  bytes(slot: number, b: Uint8Array): this { return this.add({ slot, size: 4, align: 4, ref: { bytes: b } }); }

  /** table writes a sub-table field (a union's value). */
  table(slot: number, t: FbTable): this { return this.add({ slot, size: 4, align: 4, ref: t }); }

  /** tables writes a vector of tables. */
  tables(slot: number, ts: readonly FbTable[]): this { return this.add({ slot, size: 4, align: 4, ref: { tables: ts } }); }

  /** The inline fields, for Out. */
  get inline(): readonly Inline[] { return this.fields; }
}

class Out {
  buf = new Uint8Array(256);
  dv = new DataView(this.buf.buffer);
  len = 0;

  /** alloc reserves n bytes aligned to align (zero-filled) and returns their position. */
  alloc(n: number, align: number): number {
    const pos = (this.len + align - 1) & ~(align - 1);
    const end = pos + n;
    if (end > this.buf.length) {
      let c = this.buf.length * 2;
      while (c < end) c *= 2;
      const nb = new Uint8Array(c);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
      this.dv = new DataView(nb.buffer);
    }
    this.len = end;
    return pos;
  }

  /** uoffset stores at p the forward offset to target. */
  uoffset(p: number, target: number): void {
    if (target <= p) throw new Error("fbwriter: backward uoffset");
    this.dv.setUint32(p, target - p, true);
  }

  table(t: FbTable): number {
    const fields = [...t.inline].sort((a, b) => b.size - a.size || a.slot - b.slot);
    let numSlots = 0, maxAlign = 4, off = 4;
    const at = new Map<Inline, number>();
    for (const f of fields) {
      numSlots = Math.max(numSlots, f.slot + 1);
      maxAlign = Math.max(maxAlign, f.align);
      off = (off + f.align - 1) & ~(f.align - 1);
      at.set(f, off);
      off += f.size;
    }
    if (off > 0xffff) throw new Error("fbwriter: table larger than 64 KiB");
    const vtSize = 4 + 2 * numSlots;
    const vt = this.alloc(vtSize, 2);
    this.dv.setUint16(vt, vtSize, true);
    this.dv.setUint16(vt + 2, off, true);
    for (const f of fields) this.dv.setUint16(vt + 4 + 2 * f.slot, at.get(f)!, true);
    const pos = this.alloc(off, maxAlign);
    this.dv.setInt32(pos, pos - vt, true);
    for (const f of fields) if (f.write) f.write(this.dv, pos + at.get(f)!);
    for (const f of fields) {
      if (f.ref) this.uoffset(pos + at.get(f)!, this.ref(f.ref));
    }
    return pos;
  }

  ref(r: FbRef): number {
    if (r instanceof FbTable) return this.table(r);
    if ("str" in r) {
      const p = this.alloc(4 + r.str.length + 1, 4);
      this.dv.setUint32(p, r.str.length, true);
      this.buf.set(r.str, p + 4);
      return p;
    }
    if ("bytes" in r) {
      const p = this.alloc(4 + r.bytes.length, 4);
      this.dv.setUint32(p, r.bytes.length, true);
      this.buf.set(r.bytes, p + 4);
      return p;
    }
    const p = this.alloc(4 + 4 * r.tables.length, 4);
    this.dv.setUint32(p, r.tables.length, true);
    r.tables.forEach((t, i) => this.uoffset(p + 4 + 4 * i, this.table(t)));
    return p;
  }
}

/**
 * finish writes root as a complete buffer, with a 4-character file
 * identifier when given, into a fresh Uint8Array (no padding at the end:
 * readers need none).
 */
export function finish(root: FbTable, identifier?: string): Uint8Array {
  const o = new Out();
  o.alloc(identifier ? 8 : 4, 4);
  if (identifier) {
    const id = utf8.encode(identifier);
    if (id.length !== 4) throw new Error(`file identifier ${identifier}: must be 4 bytes`);
    o.buf.set(id, 4);
  }
  o.uoffset(0, o.table(root));
  return o.buf.slice(0, o.len);
}
