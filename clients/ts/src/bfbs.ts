// A bounds-checked reader of FlatBuffers tables, enough to walk a compiled
// reflection schema (.bfbs, root reflection.Schema), the envelope's server
// messages and a game's own tables. Every read checks its offset; damaged
// bytes throw the reader's error (a SchemaError for a .bfbs), never read out
// of bounds.

import { SchemaError } from "./errors.js";

/** Table is one FlatBuffers table of buf at pos. */
export class Table {
  private readonly vt: number;
  private readonly vtLen: number;

  constructor(readonly r: Reader, readonly pos: number) {
    this.vt = pos - r.i32(pos);
    this.vtLen = r.u16(this.vt);
    if (this.vtLen < 4 || this.vtLen % 2 !== 0) throw r.fail("bad vtable");
    r.check(this.vt, this.vtLen);
  }

  /** off returns the absolute position of field slot id, or 0 when absent. */
  off(id: number): number {
    const o = 4 + 2 * id;
    if (o >= this.vtLen) return 0;
    const rel = this.r.u16(this.vt + o);
    return rel === 0 ? 0 : this.pos + rel;
  }

  bool(id: number): boolean { const o = this.off(id); return o !== 0 && this.r.u8(o) !== 0; }
  u8(id: number, d = 0): number { const o = this.off(id); return o === 0 ? d : this.r.u8(o); }
  u16(id: number, d = 0): number { const o = this.off(id); return o === 0 ? d : this.r.u16(o); }
  i32(id: number, d = 0): number { const o = this.off(id); return o === 0 ? d : this.r.i32(o); }
  u32(id: number, d = 0): number { const o = this.off(id); return o === 0 ? d : this.r.u32(o); }
  u64(id: number): bigint { const o = this.off(id); return o === 0 ? 0n : this.r.u64(o); }
  i64(id: number): bigint { const o = this.off(id); return o === 0 ? 0n : this.r.i64(o); }
  f64(id: number): number { const o = this.off(id); return o === 0 ? 0 : this.r.f64(o); }

  str(id: number): string {
    const o = this.off(id);
    return o === 0 ? "" : this.r.str(o + this.r.u32(o));
  }

  /** bytes returns a [ubyte] vector field (aliasing the buffer); empty when absent. */
  bytes(id: number): Uint8Array {
    const o = this.off(id);
    return o === 0 ? new Uint8Array(0) : this.r.vec(o + this.r.u32(o));
  }

  table(id: number): Table | undefined {
    const o = this.off(id);
    return o === 0 ? undefined : new Table(this.r, o + this.r.u32(o));
  }

  tables(id: number): Table[] {
    const o = this.off(id);
    if (o === 0) return [];
    const v = o + this.r.u32(o);
    const n = this.r.u32(v);
    this.r.check(v + 4, 4 * n);
    const out: Table[] = [];
    for (let i = 0; i < n; i++) {
      const e = v + 4 + 4 * i;
      out.push(new Table(this.r, e + this.r.u32(e)));
    }
    return out;
  }
}

/** Reader reads little-endian values of a buffer, checking bounds. */
export class Reader {
  private readonly dv: DataView;
  private static readonly utf8 = new TextDecoder("utf-8", { fatal: true });

  /**
   * fail makes the error a failed check throws: a SchemaError by default
   * (a .bfbs), the caller's for other buffers.
   */
  constructor(readonly buf: Uint8Array, readonly fail: (msg: string) => Error = (m) => new SchemaError(m),
    private readonly what = "schema") {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  check(pos: number, n: number): void {
    if (!Number.isInteger(pos) || pos < 0 || n < 0 || pos + n > this.buf.length) {
      throw this.fail(`read of ${n} bytes at ${pos} outside a ${this.buf.length}-byte ${this.what}`);
    }
  }

  u8(p: number): number { this.check(p, 1); return this.dv.getUint8(p); }
  u16(p: number): number { this.check(p, 2); return this.dv.getUint16(p, true); }
  i32(p: number): number { this.check(p, 4); return this.dv.getInt32(p, true); }
  u32(p: number): number { this.check(p, 4); return this.dv.getUint32(p, true); }
  i64(p: number): bigint { this.check(p, 8); return this.dv.getBigInt64(p, true); }
  u64(p: number): bigint { this.check(p, 8); return this.dv.getBigUint64(p, true); }
  i8(p: number): number { this.check(p, 1); return this.dv.getInt8(p); }
  i16(p: number): number { this.check(p, 2); return this.dv.getInt16(p, true); }
  f32(p: number): number { this.check(p, 4); return this.dv.getFloat32(p, true); }

  /** vec returns the bytes of the [ubyte] vector at p (aliasing the buffer). */
  vec(p: number): Uint8Array {
    const n = this.u32(p);
    this.check(p + 4, n);
    return this.buf.subarray(p + 4, p + 4 + n);
  }
  f64(p: number): number { this.check(p, 8); return this.dv.getFloat64(p, true); }

  str(p: number): string {
    const n = this.u32(p);
    this.check(p + 4, n + 1);
    try {
      return Reader.utf8.decode(this.buf.subarray(p + 4, p + 4 + n));
    } catch {
      throw this.fail(`string at ${p}: not UTF-8`);
    }
  }

  root(): Table {
    return new Table(this, this.u32(0));
  }
}
