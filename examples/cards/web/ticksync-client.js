// src/errors.ts
var SchemaError = class extends Error {
  constructor(message2) {
    super(message2);
    this.name = "SchemaError";
  }
};
var DeltaError = class extends Error {
  constructor(code, message2) {
    super(`${code}: ${message2}`);
    this.code = code;
    this.name = "DeltaError";
  }
};
var ProtocolError = class extends Error {
  constructor(message2) {
    super(message2);
    this.name = "ProtocolError";
  }
};

// src/world.ts
var empty = new Uint8Array(0);
var utf8 = new TextDecoder();
var Entity = class {
  constructor(codec, id, kind, owner, raw) {
    this.codec = codec;
    this.id = id;
    this.kind = kind;
    this.owner = owner;
    this.raw = raw;
  }
  /** The kind's name (the schema's table name, e.g. "arena.Avatar"). */
  get kindName() {
    return this.codec.kinds[this.kind].name;
  }
  /** value returns field f (a name or an index); it throws for a field the kind does not have. */
  value(f) {
    const k = this.codec.kinds[this.kind];
    const i = typeof f === "number" ? f : k.fieldIndex(f);
    const fi = k.fields[i];
    if (!fi) throw new Error(`kind ${k.name} has no field ${f}`);
    const v = this.raw[i];
    return fi.asNumber ? Number(v) : v;
  }
  /** int returns an int field as a bigint, whatever its width. */
  int(f) {
    const v = this.value(f);
    if (v instanceof Uint8Array) throw new Error(`field ${f} is bytes`);
    return BigInt(v);
  }
  /** bytes returns a bytes field. */
  bytes(f) {
    const v = this.value(f);
    if (!(v instanceof Uint8Array)) throw new Error(`field ${f} is an int`);
    return v;
  }
  /** text returns a bytes field decoded as UTF-8 (a schema string). */
  text(f) {
    return utf8.decode(this.bytes(f));
  }
  /** values returns every field by name. */
  values() {
    const out = {};
    this.codec.kinds[this.kind].fields.forEach((f, i) => out[f.name] = this.value(i));
    return out;
  }
};
var World = class {
  constructor(codec, tick, entities) {
    this.codec = codec;
    this.tick = tick;
    this.entities = entities;
  }
  /** The number of entities. */
  get size() {
    return this.entities.length;
  }
  /** get returns the entity with the given id, or undefined. */
  get(id) {
    let lo = 0, hi = this.entities.length;
    while (lo < hi) {
      const m = lo + hi >>> 1;
      if (this.entities[m].id < id) lo = m + 1;
      else hi = m;
    }
    const e = this.entities[lo];
    return e && e.id === id ? e : void 0;
  }
  /** ofKind returns the entities of a kind (by name or index), by ascending id. */
  ofKind(kind) {
    const k = typeof kind === "number" ? kind : this.codec.kindIndex(kind);
    return this.entities.filter((e) => e.kind === k);
  }
  /** ownedBy returns the entities owned by a player, by ascending id. */
  ownedBy(player) {
    return this.entities.filter((e) => e.owner === player);
  }
};

// src/delta.ts
var wrap64 = (v) => BigInt.asIntN(64, v);
function bad(msg) {
  return new DeltaError("bad", msg);
}
var Bytes = class {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }
  get left() {
    return this.buf.length - this.pos;
  }
  /** uvarint as Go's binary.Uvarint: at most 10 bytes, below 2^64. */
  uvarint(what) {
    let x = 0n, s = 0n;
    for (let i = 0; ; i++) {
      if (i === 10 || this.pos >= this.buf.length) throw bad(`${what}: bad varint`);
      const b = this.buf[this.pos++];
      if (b < 128) {
        if (i === 9 && b > 1) throw bad(`${what}: varint overflows 64 bits`);
        return x | BigInt(b) << s;
      }
      x |= BigInt(b & 127) << s;
      s += 7n;
    }
  }
  /** id reads an id coded as the gap after prev (-1: the first). */
  id(prev, what) {
    const u = this.uvarint(`${what} id`);
    const id = BigInt(prev) + 1n + u;
    if (u > 0xffffffffn || id > 0xffffffffn) throw bad(`${what} id after ${prev}: past 2^32`);
    return Number(id);
  }
  take(n) {
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
};
function unzigzag(u) {
  return wrap64(u >> 1n ^ -(u & 1n));
}
function reduce(f, v) {
  if (f.bits === 64) return v;
  return f.signed ? BigInt.asIntN(f.bits, v) : BigInt.asUintN(f.bits, v);
}
function fits(f, v) {
  return f.any || v >= f.min && v <= f.max;
}
function readField(r, f, pred, what) {
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
var Decoder = class {
  constructor(codec, player, maxEntities = 1 << 16) {
    this.codec = codec;
    this.player = player;
    this.maxEntities = maxEntities;
  }
  /**
   * apply returns the world at tick built from base (the world at the
   * snapshot's baseline; empty for a full snapshot), dt = tick − baseline and
   * the snapshot's bytes. It throws DeltaError("bad") for bytes that do not
   * apply; base is never modified.
   */
  apply(base, dt, data, tick = 0) {
    const c = this.codec;
    const r = new Bytes(data);
    const nb = base.length;
    const removed = [];
    const spawned = [];
    let n = nb;
    let first;
    if (data.length > 0) {
      const f = r.uvarint("header");
      if ((f & 1n) === 0n) {
        first = f >> 1n;
      } else {
        const h = f >> 1n;
        if (h >> 1n > BigInt(nb)) throw bad(`${h >> 1n} ids removed from a baseline of ${nb} entities`);
        const nr2 = Number(h >> 1n);
        let ns2 = 0n;
        if ((h & 1n) !== 0n) {
          ns2 = r.uvarint("spawned count");
          const rem = r.left - nr2;
          if (rem < 0 || ns2 > BigInt(Math.floor(rem / 3)) || BigInt(nb - nr2) + ns2 > BigInt(this.maxEntities)) {
            throw bad(`${ns2} spawned entities: too many`);
          }
        }
        let prev = -1;
        for (let i2 = 0; i2 < nr2; i2++) removed.push(prev = r.id(prev, "removed"));
        prev = -1;
        for (let i2 = 0n; i2 < ns2; i2++) {
          const id = prev = r.id(prev, "spawned");
          const kind = r.uvarint(`spawned ${id} kind`);
          if (kind >= BigInt(c.kinds.length)) throw bad(`spawned ${id}: bad kind`);
          const owner = r.uvarint(`spawned ${id} owner`);
          if (owner > 0xffffffffn) throw bad(`spawned ${id}: bad owner`);
          const k2 = c.kinds[Number(kind)];
          const owned = this.player !== 0 && Number(owner) === this.player;
          const raw = k2.fields.map((fi) => fi.ownerOnly && !owned ? zero(fi) : readField(r, fi, 0n, `spawned ${id} field ${fi.name}`));
          spawned.push(new Entity(c, id, Number(kind), Number(owner), raw));
        }
        n = nb - nr2;
        if (r.left > 0) first = r.uvarint("changes");
      }
    }
    const ch = new Changes(r, n, first);
    const out = [];
    let i = 0, s = 0, k = 0, idx = 0;
    const ns = spawned.length, nr = removed.length;
    while (i < nb || s < ns) {
      if (s < ns && (i === nb || spawned[s].id <= base[i].id)) {
        const id2 = spawned[s].id;
        if (i < nb && id2 === base[i].id) {
          if (k >= nr || removed[k] !== id2) throw bad(`spawned id ${id2} already in the baseline`);
          k++;
          i++;
        }
        out.push(spawned[s++]);
        continue;
      }
      const id = base[i].id;
      if (k < nr && removed[k] <= id) {
        if (removed[k] < id) throw bad(`removed id ${removed[k]} not in the baseline`);
        k++;
        i++;
        continue;
      }
      out.push(this.common(base[i], ch, idx, dt));
      idx++;
      i++;
    }
    if (k < nr) throw bad(`removed id ${removed[k]} not in the baseline`);
    ch.finish();
    return new World(c, tick, out);
  }
  /** common returns common entity idx at the new tick: predicted, then changed by its record. */
  common(b, ch, idx, dt) {
    const k = this.codec.kinds[b.kind];
    const ownedB = this.player !== 0 && b.owner === this.player;
    const vals = b.raw.slice();
    let changed = false;
    const bdt = BigInt(dt);
    k.fields.forEach((fi, f) => {
      if (fi.vel < 0 || fi.ownerOnly && !ownedB) return;
      let v = wrap64(b.raw[f] + b.raw[fi.vel] * bdt);
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
      if ((mask & 1n << BigInt(n)) !== 0n) {
        const o = r.uvarint(`entity ${b.id} owner`);
        if (o > 0xffffffffn) throw bad(`entity ${b.id}: bad owner`);
        owner = Number(o);
      }
      const owned2 = this.player !== 0 && owner === this.player;
      for (let f = 0; f < n; f++) {
        if ((mask & 1n << BigInt(f)) === 0n) continue;
        const fi = k.fields[f];
        if (fi.ownerOnly && !owned2) throw bad(`entity ${b.id}: owner-only field ${fi.name} of an entity the player does not own`);
        vals[f] = readField(r, fi, fi.bytes ? 0n : vals[f], `entity ${b.id} field ${fi.name}`);
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
      if (!check || fi.ownerOnly && !owned) return;
      if (!fits(fi, vals[f])) throw bad(`entity ${b.id} field ${fi.name}: ${vals[f]} does not fit`);
    });
    return changed ? new Entity(this.codec, b.id, b.kind, owner, vals) : b;
  }
};
function zero(f) {
  return f.bytes ? empty : 0n;
}
var Changes = class {
  constructor(r, n, first) {
    this.r = r;
    this.n = n;
    this.next = -1;
    this.gaps = false;
    this.bitmap = empty;
    if (first === void 0) return;
    if (first !== 0n) {
      if (first > BigInt(n)) throw bad(`changes: first changed index ${first - 1n} of ${n} common entities`);
      this.gaps = true;
      this.next = Number(first - 1n);
      return;
    }
    const nb = n + 7 >> 3;
    if (r.left < nb) throw bad(`changes: bitmap of ${nb} bytes for ${n} entities, ${r.left} bytes left`);
    this.bitmap = r.take(nb);
    const rem = n % 8;
    if (rem !== 0 && this.bitmap[nb - 1] >> rem !== 0) throw bad(`changes: bitmap bits set past ${n} entities`);
    this.next = this.nextBit(0);
  }
  nextBit(from) {
    for (let i = from; i < this.n; i++) if (this.bitmap[i >> 3] >> (i & 7) & 1) return i;
    return -1;
  }
  advance(idx) {
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
  finish() {
    if (this.next >= 0) throw bad(`changes: index ${this.next} of ${this.n} common entities never reached`);
    if (this.r.left !== 0) throw bad(`changes: ${this.r.left} trailing bytes`);
  }
};
var Receiver = class {
  constructor(codec, options) {
    this.codec = codec;
    this.newestTick = 0;
    const history = options.history ?? 64;
    const maxEntities = options.maxEntities ?? 1 << 16;
    if (!Number.isInteger(history) || history < 2 || history > 1024) throw new Error(`history ${history}: must be 2..1024`);
    if (!Number.isInteger(maxEntities) || maxEntities < 1 || maxEntities > 1 << 24) throw new Error(`max entities ${maxEntities}: must be 1..${1 << 24}`);
    if (!Number.isInteger(options.player) || options.player < 0 || options.player > 4294967295) throw new Error(`player ${options.player}: must be a uint32`);
    this.player = options.player;
    this.decoder = new Decoder(codec, options.player, maxEntities);
    this.slots = new Array(history).fill(void 0);
  }
  /**
   * apply applies the snapshot of tick encoded against baseline (0: full) and
   * returns the world at tick. It throws DeltaError: "stale" for a tick not
   * after newest (ignore it), "nobaseline" when the baseline is not held
   * (keep acknowledging newest: the server falls back to a full snapshot),
   * "bad" for bytes that do not apply. On error nothing changes.
   */
  apply(tick, baseline, data) {
    if (tick === 0 || baseline >= tick && baseline !== 0) throw bad(`tick ${tick} against baseline ${baseline}`);
    if (tick <= this.newestTick) throw new DeltaError("stale", `tick ${tick}, newest ${this.newestTick}`);
    let base = [];
    if (baseline !== 0) {
      const w2 = this.world(baseline);
      if (!w2) throw new DeltaError("nobaseline", `tick ${baseline}`);
      base = w2.entities;
    }
    const w = this.decoder.apply(base, tick - baseline, data, tick);
    this.slots[tick % this.slots.length] = w;
    this.newestTick = tick;
    return w;
  }
  /** The newest tick applied (0: none): the tick to acknowledge. */
  get newest() {
    return this.newestTick;
  }
  /** world returns the held world of tick, or undefined. */
  world(tick) {
    if (tick === 0) return void 0;
    const w = this.slots[tick % this.slots.length];
    return w && w.tick === tick ? w : void 0;
  }
  /** reset forgets every world (a new connection to a server with no record of this client). */
  reset() {
    this.newestTick = 0;
    this.slots.fill(void 0);
  }
};

// src/bfbs.ts
var Table = class _Table {
  constructor(r, pos) {
    this.r = r;
    this.pos = pos;
    this.vt = pos - r.i32(pos);
    this.vtLen = r.u16(this.vt);
    if (this.vtLen < 4 || this.vtLen % 2 !== 0) throw r.fail("bad vtable");
    r.check(this.vt, this.vtLen);
  }
  /** off returns the absolute position of field slot id, or 0 when absent. */
  off(id) {
    const o = 4 + 2 * id;
    if (o >= this.vtLen) return 0;
    const rel = this.r.u16(this.vt + o);
    return rel === 0 ? 0 : this.pos + rel;
  }
  bool(id) {
    const o = this.off(id);
    return o !== 0 && this.r.u8(o) !== 0;
  }
  u8(id, d = 0) {
    const o = this.off(id);
    return o === 0 ? d : this.r.u8(o);
  }
  u16(id, d = 0) {
    const o = this.off(id);
    return o === 0 ? d : this.r.u16(o);
  }
  i32(id, d = 0) {
    const o = this.off(id);
    return o === 0 ? d : this.r.i32(o);
  }
  u32(id, d = 0) {
    const o = this.off(id);
    return o === 0 ? d : this.r.u32(o);
  }
  u64(id) {
    const o = this.off(id);
    return o === 0 ? 0n : this.r.u64(o);
  }
  i64(id) {
    const o = this.off(id);
    return o === 0 ? 0n : this.r.i64(o);
  }
  f64(id) {
    const o = this.off(id);
    return o === 0 ? 0 : this.r.f64(o);
  }
  str(id) {
    const o = this.off(id);
    return o === 0 ? "" : this.r.str(o + this.r.u32(o));
  }
  /** bytes returns a [ubyte] vector field (aliasing the buffer); empty when absent. */
  bytes(id) {
    const o = this.off(id);
    return o === 0 ? new Uint8Array(0) : this.r.vec(o + this.r.u32(o));
  }
  table(id) {
    const o = this.off(id);
    return o === 0 ? void 0 : new _Table(this.r, o + this.r.u32(o));
  }
  tables(id) {
    const o = this.off(id);
    if (o === 0) return [];
    const v = o + this.r.u32(o);
    const n = this.r.u32(v);
    this.r.check(v + 4, 4 * n);
    const out = [];
    for (let i = 0; i < n; i++) {
      const e = v + 4 + 4 * i;
      out.push(new _Table(this.r, e + this.r.u32(e)));
    }
    return out;
  }
};
var _Reader = class _Reader {
  /**
   * fail makes the error a failed check throws: a SchemaError by default
   * (a .bfbs), the caller's for other buffers.
   */
  constructor(buf, fail = (m) => new SchemaError(m), what = "schema") {
    this.buf = buf;
    this.fail = fail;
    this.what = what;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  check(pos, n) {
    if (!Number.isInteger(pos) || pos < 0 || n < 0 || pos + n > this.buf.length) {
      throw this.fail(`read of ${n} bytes at ${pos} outside a ${this.buf.length}-byte ${this.what}`);
    }
  }
  u8(p) {
    this.check(p, 1);
    return this.dv.getUint8(p);
  }
  u16(p) {
    this.check(p, 2);
    return this.dv.getUint16(p, true);
  }
  i32(p) {
    this.check(p, 4);
    return this.dv.getInt32(p, true);
  }
  u32(p) {
    this.check(p, 4);
    return this.dv.getUint32(p, true);
  }
  i64(p) {
    this.check(p, 8);
    return this.dv.getBigInt64(p, true);
  }
  u64(p) {
    this.check(p, 8);
    return this.dv.getBigUint64(p, true);
  }
  i8(p) {
    this.check(p, 1);
    return this.dv.getInt8(p);
  }
  i16(p) {
    this.check(p, 2);
    return this.dv.getInt16(p, true);
  }
  f32(p) {
    this.check(p, 4);
    return this.dv.getFloat32(p, true);
  }
  /** vec returns the bytes of the [ubyte] vector at p (aliasing the buffer). */
  vec(p) {
    const n = this.u32(p);
    this.check(p + 4, n);
    return this.buf.subarray(p + 4, p + 4 + n);
  }
  f64(p) {
    this.check(p, 8);
    return this.dv.getFloat64(p, true);
  }
  str(p) {
    const n = this.u32(p);
    this.check(p + 4, n + 1);
    try {
      return _Reader.utf8.decode(this.buf.subarray(p + 4, p + 4 + n));
    } catch {
      throw this.fail(`string at ${p}: not UTF-8`);
    }
  }
  root() {
    return new Table(this, this.u32(0));
  }
};
_Reader.utf8 = new TextDecoder("utf-8", { fatal: true });
var Reader = _Reader;

// src/fbwriter.ts
var utf82 = new TextEncoder();
var FbTable = class {
  constructor() {
    this.fields = [];
  }
  add(f) {
    if (!Number.isInteger(f.slot) || f.slot < 0 || f.slot > 32766) throw new RangeError(`field slot ${f.slot}`);
    if (this.fields.some((g) => g.slot === f.slot)) throw new Error(`field slot ${f.slot} written twice`);
    this.fields.push(f);
    return this;
  }
  bool(slot, v) {
    return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setUint8(p, v ? 1 : 0) });
  }
  i8(slot, v) {
    return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setInt8(p, v) });
  }
  u8(slot, v) {
    return this.add({ slot, size: 1, align: 1, write: (d, p) => d.setUint8(p, v) });
  }
  i16(slot, v) {
    return this.add({ slot, size: 2, align: 2, write: (d, p) => d.setInt16(p, v, true) });
  }
  u16(slot, v) {
    return this.add({ slot, size: 2, align: 2, write: (d, p) => d.setUint16(p, v, true) });
  }
  i32(slot, v) {
    return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setInt32(p, v, true) });
  }
  u32(slot, v) {
    return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setUint32(p, v, true) });
  }
  i64(slot, v) {
    return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setBigInt64(p, v, true) });
  }
  u64(slot, v) {
    return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setBigUint64(p, v, true) });
  }
  f32(slot, v) {
    return this.add({ slot, size: 4, align: 4, write: (d, p) => d.setFloat32(p, v, true) });
  }
  f64(slot, v) {
    return this.add({ slot, size: 8, align: 8, write: (d, p) => d.setFloat64(p, v, true) });
  }
  /** struct writes a struct field: its bytes as laid out by the schema, aligned to align. */
  struct(slot, bytes2, align) {
    const b = bytes2.slice();
    return this.add({ slot, size: b.length, align, write: (d, p) => new Uint8Array(d.buffer, d.byteOffset + p, b.length).set(b) });
  }
  /** str writes a string field (UTF-8). */
  str(slot, s) {
    return this.add({ slot, size: 4, align: 4, ref: { str: typeof s === "string" ? utf82.encode(s) : s } });
  }
  /** bytes writes a [ubyte] field. */
  bytes(slot, b) {
    return this.add({ slot, size: 4, align: 4, ref: { bytes: b } });
  }
  /** table writes a sub-table field (a union's value). */
  table(slot, t) {
    return this.add({ slot, size: 4, align: 4, ref: t });
  }
  /** tables writes a vector of tables. */
  tables(slot, ts) {
    return this.add({ slot, size: 4, align: 4, ref: { tables: ts } });
  }
  /** The inline fields, for Out. */
  get inline() {
    return this.fields;
  }
};
var Out = class {
  constructor() {
    this.buf = new Uint8Array(256);
    this.dv = new DataView(this.buf.buffer);
    this.len = 0;
  }
  /** alloc reserves n bytes aligned to align (zero-filled) and returns their position. */
  alloc(n, align) {
    const pos = this.len + align - 1 & ~(align - 1);
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
  uoffset(p, target) {
    if (target <= p) throw new Error("fbwriter: backward uoffset");
    this.dv.setUint32(p, target - p, true);
  }
  table(t) {
    const fields = [...t.inline].sort((a, b) => b.size - a.size || a.slot - b.slot);
    let numSlots = 0, maxAlign = 4, off = 4;
    const at = /* @__PURE__ */ new Map();
    for (const f of fields) {
      numSlots = Math.max(numSlots, f.slot + 1);
      maxAlign = Math.max(maxAlign, f.align);
      off = off + f.align - 1 & ~(f.align - 1);
      at.set(f, off);
      off += f.size;
    }
    if (off > 65535) throw new Error("fbwriter: table larger than 64 KiB");
    const vtSize = 4 + 2 * numSlots;
    const vt = this.alloc(vtSize, 2);
    this.dv.setUint16(vt, vtSize, true);
    this.dv.setUint16(vt + 2, off, true);
    for (const f of fields) this.dv.setUint16(vt + 4 + 2 * f.slot, at.get(f), true);
    const pos = this.alloc(off, maxAlign);
    this.dv.setInt32(pos, pos - vt, true);
    for (const f of fields) if (f.write) f.write(this.dv, pos + at.get(f));
    for (const f of fields) {
      if (f.ref) this.uoffset(pos + at.get(f), this.ref(f.ref));
    }
    return pos;
  }
  ref(r) {
    if (r instanceof FbTable) return this.table(r);
    if ("str" in r) {
      const p2 = this.alloc(4 + r.str.length + 1, 4);
      this.dv.setUint32(p2, r.str.length, true);
      this.buf.set(r.str, p2 + 4);
      return p2;
    }
    if ("bytes" in r) {
      const p2 = this.alloc(4 + r.bytes.length, 4);
      this.dv.setUint32(p2, r.bytes.length, true);
      this.buf.set(r.bytes, p2 + 4);
      return p2;
    }
    const p = this.alloc(4 + 4 * r.tables.length, 4);
    this.dv.setUint32(p, r.tables.length, true);
    r.tables.forEach((t, i) => this.uoffset(p + 4 + 4 * i, this.table(t)));
    return p;
  }
};
function finish(root, identifier) {
  const o = new Out();
  o.alloc(identifier ? 8 : 4, 4);
  if (identifier) {
    const id = utf82.encode(identifier);
    if (id.length !== 4) throw new Error(`file identifier ${identifier}: must be 4 bytes`);
    o.buf.set(id, 4);
  }
  o.uoffset(0, o.table(root));
  return o.buf.slice(0, o.len);
}

// src/envelope.ts
var FileIdentifier = "TSY1";
var MaxSnapshotEvents = 1024;
var clientKinds = ["", "hello", "input", "leave", "ping", "event"];
var serverKinds = ["", "welcome", "snapshot", "redirect", "error", "pong"];
function str(t, slot, s) {
  if (s) t.str(slot, s);
}
function u32(t, slot, v) {
  if (v) t.u32(slot, v >>> 0);
}
function bytes(t, slot, b) {
  if (b && b.length > 0) t.bytes(slot, b);
}
function u64(t, slot, v) {
  if (v) t.u64(slot, BigInt.asUintN(64, v));
}
function event(e) {
  const t = new FbTable();
  u32(t, 0, e.seq);
  u32(t, 1, e.tick);
  bytes(t, 2, e.data);
  return t;
}
function message(kind, body2) {
  return finish(new FbTable().u8(0, kind).table(1, body2), FileIdentifier);
}
function encodeClient(m) {
  const t = new FbTable();
  switch (m.kind) {
    case "hello":
      str(t, 0, m.token);
      str(t, 1, m.matchId);
      str(t, 2, m.resumeToken);
      u32(t, 3, m.lastTick);
      str(t, 4, m.name);
      str(t, 5, m.game);
      bytes(t, 6, m.join);
      str(t, 7, m.schemaHash);
      u32(t, 8, m.eventAck);
      return message(1, t);
    case "input":
      u32(t, 0, m.seq);
      u32(t, 1, m.targetTick);
      u32(t, 2, m.ackTick);
      bytes(t, 7, m.data);
      u32(t, 8, m.eventAck);
      return message(2, t);
    case "leave":
      return message(3, t);
    case "ping":
      u64(t, 0, m.clientTime);
      return message(4, t);
    case "event":
      return message(5, event(m));
  }
}
function encodeServer(m) {
  const t = new FbTable();
  switch (m.kind) {
    case "welcome":
      str(t, 0, m.sessionId);
      str(t, 1, m.resumeToken);
      u32(t, 2, m.playerId);
      u32(t, 3, m.entityId);
      if (m.tickRate) t.u16(4, m.tickRate);
      u32(t, 5, m.serverTick);
      str(t, 6, m.nodeId);
      str(t, 7, m.matchId);
      str(t, 8, m.game);
      str(t, 9, m.schemaHash);
      u32(t, 10, m.eventSeq);
      return message(1, t);
    case "snapshot":
      u32(t, 0, m.tick);
      u32(t, 1, m.baselineTick);
      u32(t, 2, m.lastInputSeq);
      u64(t, 6, m.serverTimeMs);
      bytes(t, 7, m.state);
      if (m.events.length > 0) t.tables(8, m.events.map(event));
      u32(t, 9, m.eventSeq);
      return message(2, t);
    case "redirect":
      str(t, 0, m.url);
      str(t, 1, m.matchId);
      return message(3, t);
    case "error":
      if (m.code) t.u16(0, m.code);
      str(t, 1, m.message);
      return message(4, t);
    case "pong":
      u64(t, 0, m.clientTime);
      u64(t, 1, m.serverTimeMs);
      return message(5, t);
  }
}
function body(buf, what) {
  if (buf.length < 12) throw new ProtocolError(`${what}: ${buf.length} bytes: too short`);
  if (String.fromCharCode(buf[4], buf[5], buf[6], buf[7]) !== FileIdentifier) {
    throw new ProtocolError(`${what}: file identifier is not ${FileIdentifier}`);
  }
  const r = new Reader(buf, (m) => new ProtocolError(`${what}: ${m}`), "message");
  const root = r.root();
  const type = root.u8(0);
  const t = root.table(1);
  if (type === 0 || !t) throw new ProtocolError(`${what}: no body`);
  return { r, type, t };
}
function readEvent(t) {
  return { seq: t.u32(0), tick: t.u32(1), data: t.bytes(2) };
}
function decodeServer(buf) {
  const { type, t } = body(buf, "server message");
  switch (serverKinds[type]) {
    case "welcome":
      return {
        kind: "welcome",
        sessionId: t.str(0),
        resumeToken: t.str(1),
        playerId: t.u32(2),
        entityId: t.u32(3),
        tickRate: t.u16(4),
        serverTick: t.u32(5),
        nodeId: t.str(6),
        matchId: t.str(7),
        game: t.str(8),
        schemaHash: t.str(9),
        eventSeq: t.u32(10)
      };
    case "snapshot": {
      const evs = t.tables(8);
      if (evs.length > MaxSnapshotEvents) throw new ProtocolError(`snapshot: ${evs.length} events: at most ${MaxSnapshotEvents}`);
      return {
        kind: "snapshot",
        tick: t.u32(0),
        baselineTick: t.u32(1),
        lastInputSeq: t.u32(2),
        serverTimeMs: t.u64(6),
        state: t.bytes(7),
        events: evs.map(readEvent),
        eventSeq: t.u32(9)
      };
    }
    case "redirect":
      return { kind: "redirect", url: t.str(0), matchId: t.str(1) };
    case "error":
      return { kind: "error", code: t.u16(0), message: t.str(1) };
    case "pong":
      return { kind: "pong", clientTime: t.u64(0), serverTimeMs: t.u64(1) };
  }
  throw new ProtocolError(`server message: unknown body type ${type}`);
}
function decodeClient(buf) {
  const { type, t } = body(buf, "client message");
  switch (clientKinds[type]) {
    case "hello":
      return {
        kind: "hello",
        token: t.str(0),
        matchId: t.str(1),
        resumeToken: t.str(2),
        lastTick: t.u32(3),
        name: t.str(4),
        game: t.str(5),
        join: t.bytes(6),
        schemaHash: t.str(7),
        eventAck: t.u32(8)
      };
    case "input":
      return { kind: "input", seq: t.u32(0), targetTick: t.u32(1), ackTick: t.u32(2), data: t.bytes(7), eventAck: t.u32(8) };
    case "leave":
      return { kind: "leave" };
    case "ping":
      return { kind: "ping", clientTime: t.u64(0) };
    case "event":
      return { kind: "event", ...readEvent(t) };
  }
  throw new ProtocolError(`client message: unknown body type ${type}`);
}

// src/values.ts
var SAFE = BigInt(Number.MAX_SAFE_INTEGER);
var utf83 = new TextDecoder("utf-8", { fatal: true });
var text = new TextDecoder();
var utf8enc = new TextEncoder();
var typeSize = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8
};
function limits(t) {
  switch (t) {
    case "bool":
      return [0n, 1n];
    case "int8":
      return [-128n, 127n];
    case "uint8":
      return [0n, 255n];
    case "int16":
      return [-32768n, 32767n];
    case "uint16":
      return [0n, 65535n];
    case "int32":
      return [-(1n << 31n), (1n << 31n) - 1n];
    case "uint32":
      return [0n, (1n << 32n) - 1n];
    case "int64":
      return [-(1n << 63n), (1n << 63n) - 1n];
    default:
      return [0n, (1n << 64n) - 1n];
  }
}
function isFloat(f) {
  return f.type === "float32" || f.type === "float64";
}
function isRef(f) {
  return f.type === "string" || f.type === "bytes";
}
function isBigField(f) {
  if (f.quantum !== 0) return false;
  if (f.type === "uint64") return true;
  if (f.type !== "int64") return false;
  return !(f.range && f.range.min >= -SAFE && f.range.max <= SAFE);
}
function intValue(f, x) {
  if (f.type === "bool") return x !== 0n;
  if (f.type === "uint64") x = BigInt.asUintN(64, x);
  if (f.quantum !== 0) return Number(x) * f.quantum;
  return isBigField(f) ? x : Number(x);
}
function worldValue(f, raw) {
  if (raw instanceof Uint8Array) return f.type === "string" ? text.decode(raw) : raw;
  if (isFloat(f)) return Number(raw) * f.quantum;
  return intValue(f, raw);
}
function defaultValue(f) {
  if (f.type === "string") return "";
  if (f.type === "bytes") return new Uint8Array(0);
  if (isFloat(f)) return f.defaultFloat;
  return intValue(f, f.defaultInt);
}
function flatten(v, prefix, out) {
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === void 0) continue;
    const name = prefix === "" ? k : `${prefix}.${k}`;
    if (x instanceof Uint8Array || typeof x !== "object") out.set(name, x);
    else flatten(x, name, out);
  }
}
function where(t, f) {
  return `${t.name}.${f.name}`;
}
function intWire(t, f, v) {
  let x;
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
  if (f.type === "uint64" && x < 0n && x >= -(1n << 63n)) x = BigInt.asUintN(64, x);
  const [lo, hi] = limits(f.type);
  if (x < lo || x > hi) throw new RangeError(`${where(t, f)}: ${x} does not fit a ${f.type}`);
  if (f.range && !isFloat(f) && (x < f.range.min || x > f.range.max)) {
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
function floatWire(t, f, v) {
  if (typeof v !== "number" && typeof v !== "bigint") throw new TypeError(`${where(t, f)}: a ${f.type} takes a number, not ${typeof v}`);
  let x = Number(v);
  if (f.type === "float32") x = Math.fround(x);
  if (!Number.isFinite(x)) throw new RangeError(`${where(t, f)}: ${v}: must be finite`);
  if (f.range && (x < f.range.min || x > f.range.max)) {
    throw new RangeError(`${where(t, f)}: ${x}: must be ${f.range.min}..${f.range.max}`);
  }
  return x;
}
function refWire(t, f, v) {
  let b;
  if (typeof v === "string") b = utf8enc.encode(v);
  else if (v instanceof Uint8Array) b = v;
  else throw new TypeError(`${where(t, f)}: a ${f.type} takes ${f.type === "string" ? "a string" : "a Uint8Array"}, not ${typeof v}`);
  if (b.length > f.maxLen) throw new RangeError(`${where(t, f)}: ${b.length} bytes: must be at most ${f.maxLen}`);
  if (f.type === "string" && typeof v !== "string") {
    try {
      utf83.decode(b);
    } catch {
      throw new RangeError(`${where(t, f)}: not UTF-8`);
    }
  }
  return b;
}
function putLeaf(dv, off, f, w) {
  if (f.type === "float32") return dv.setFloat32(off, w, true);
  if (f.type === "float64") return dv.setFloat64(off, w, true);
  const x = w;
  switch (typeSize[f.type]) {
    case 1:
      return dv.setUint8(off, Number(BigInt.asUintN(8, x)));
    case 2:
      return dv.setUint16(off, Number(BigInt.asUintN(16, x)), true);
    case 4:
      return dv.setUint32(off, Number(BigInt.asUintN(32, x)), true);
    default:
      return dv.setBigUint64(off, BigInt.asUintN(64, x), true);
  }
}
function scalarWire(t, f, v) {
  if (v === void 0) return isFloat(f) ? f.defaultFloat : f.defaultInt;
  return isFloat(f) ? floatWire(t, f, v) : intWire(t, f, v);
}
function buildTable(t, values = {}) {
  const m = /* @__PURE__ */ new Map();
  flatten(values, "", m);
  for (const k of m.keys()) {
    if (!t.field(k)) throw new TypeError(`${t.name} has no field ${k}`);
  }
  const tb = new FbTable();
  for (let i = 0; i < t.fields.length; ) {
    const f = t.fields[i];
    if (f.struct !== 0) {
      const tmp2 = new Uint8Array(f.struct);
      const dv = new DataView(tmp2.buffer);
      let j = i;
      for (; j < t.fields.length && t.fields[j].id === f.id; j++) {
        const g = t.fields[j];
        putLeaf(dv, g.offset, g, scalarWire(t, g, m.get(g.name)));
      }
      tb.struct(f.id, tmp2, f.align);
      i = j;
      continue;
    }
    i++;
    const v = m.get(f.name);
    if (isRef(f)) {
      if (v === void 0) {
        if (f.required) throw new TypeError(`${where(t, f)}: required`);
        continue;
      }
      const b = refWire(t, f, v);
      if (f.type === "string") tb.str(f.id, b);
      else tb.bytes(f.id, b);
      continue;
    }
    if (v === void 0) continue;
    const w = scalarWire(t, f, v);
    if (w === (isFloat(f) ? f.defaultFloat : f.defaultInt)) continue;
    const size = typeSize[f.type];
    const tmp = new Uint8Array(size);
    putLeaf(new DataView(tmp.buffer), 0, f, w);
    tb.struct(f.id, tmp, size);
  }
  return tb;
}
function encodeTable(t, values = {}) {
  return finish(buildTable(t, values));
}
function eventMember(ev, name) {
  let i = ev.members.indexOf(name);
  if (i < 0) i = ev.tables.findIndex((t) => t.name === name || t.name.endsWith("." + name));
  return i;
}
function encodeEvent(ev, name, values = {}) {
  const i = eventMember(ev, name);
  const t = ev.tables[i];
  if (!t) throw new TypeError(`${ev.union} has no member ${name} (members: ${ev.members.join(", ")})`);
  const w = new FbTable().u8(ev.typeSlot, t.kind).table(ev.valueSlot, buildTable(t, values));
  return finish(w);
}
function reader(buf, what) {
  const r = new Reader(buf, (m) => new ProtocolError(`${what}: ${m}`), what);
  if (buf.length < 8) throw new ProtocolError(`${what}: buffer of ${buf.length} bytes: shorter than 8`);
  return r;
}
function readInt(r, p, f) {
  switch (f.type) {
    case "bool": {
      const b = r.u8(p);
      if (b > 1) throw r.fail(`${f.name}: bool byte ${b}`);
      return BigInt(b);
    }
    case "int8":
      return BigInt(r.i8(p));
    case "uint8":
      return BigInt(r.u8(p));
    case "int16":
      return BigInt(r.i16(p));
    case "uint16":
      return BigInt(r.u16(p));
    case "int32":
      return BigInt(r.i32(p));
    case "uint32":
      return BigInt(r.u32(p));
    case "int64":
      return r.i64(p);
    default:
      return r.u64(p);
  }
}
function readTable(t, tb, r) {
  const out = {};
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
function decodeTable(t, buf) {
  const r = reader(buf, t.name);
  return readTable(t, r.root(), r);
}
function decodeEvent(ev, buf) {
  const r = reader(buf, ev.wrapper);
  const w = r.root();
  const type = w.u8(ev.typeSlot);
  const t = ev.tables[type - 1];
  if (!t) throw new ProtocolError(`${ev.wrapper}: event type ${type}: must be 1..${ev.tables.length}`);
  const m = w.table(ev.valueSlot);
  if (!m) throw new ProtocolError(`${ev.wrapper}: event type ${type} without a value`);
  return { name: ev.members[type - 1], table: t.name, values: readTable(t, m, r) };
}

// src/gameworld.ts
var GameEntity = class {
  constructor(raw, table) {
    this.raw = raw;
    this.table = table;
  }
  get id() {
    return this.raw.id;
  }
  /** the owning player's id; 0: none */
  get owner() {
    return this.raw.owner;
  }
  /** the kind's table name, e.g. "cards.Player" */
  get kind() {
    return this.table.name;
  }
  /** fields holds every field by leaf name ("pointer.x"). */
  get fields() {
    if (!this.vals) {
      const out = {};
      this.table.fields.forEach((f, i) => out[f.name] = worldValue(f, this.raw.raw[i]));
      this.vals = Object.freeze(out);
    }
    return this.vals;
  }
  /** get returns one field by leaf name; it throws for a name the kind does not have. */
  get(name) {
    const v = this.fields[name];
    if (v === void 0) throw new Error(`${this.table.name} has no field ${name}`);
    return v;
  }
};
var EntityViews = class {
  constructor(schema) {
    this.schema = schema;
    this.cache = /* @__PURE__ */ new WeakMap();
  }
  view(e) {
    let v = this.cache.get(e);
    if (!v) {
      v = new GameEntity(e, this.schema.entities[e.kind]);
      this.cache.set(e, v);
    }
    return v;
  }
};
var GameWorld = class {
  constructor(raw, views) {
    this.raw = raw;
    this.views = views;
  }
  get tick() {
    return this.raw.tick;
  }
  get size() {
    return this.raw.size;
  }
  /** entities holds every entity by ascending id. */
  get entities() {
    if (!this.list) this.list = this.raw.entities.map((e) => this.views.view(e));
    return this.list;
  }
  /** get returns the entity with the given id, or undefined. */
  get(id) {
    const e = this.raw.get(id);
    return e ? this.views.view(e) : void 0;
  }
  /** ofKind returns the entities of a kind, named in full ("cards.Card") or without the namespace ("Card"). */
  ofKind(kind) {
    return this.entities.filter((e) => e.kind === kind || e.kind.endsWith("." + kind));
  }
  /** ownedBy returns the entities a player owns, by ascending id. */
  ownedBy(player) {
    return this.entities.filter((e) => e.owner === player);
  }
};

// src/layout.ts
var MAX_KINDS = 1 << 16;
var MAX_FIELDS = 63;
var MAX_BYTES_LEN = 1 << 16;
var DEFAULT_MAX_LEN = 255;
var SAFE2 = BigInt(Number.MAX_SAFE_INTEGER);
function compileLayout(l) {
  if (l.kinds.length === 0 || l.kinds.length > MAX_KINDS) throw new Error(`layout: ${l.kinds.length} kinds: must be 1..${MAX_KINDS}`);
  const kinds = l.kinds.map((k) => {
    if (k.fields.length > MAX_FIELDS) throw new Error(`layout: kind ${k.name}: ${k.fields.length} fields: must be 0..${MAX_FIELDS}`);
    const fields = k.fields.map((f, i) => compileField(k, i, f));
    return { name: k.name, fields, fieldIndex: (n) => fields.findIndex((f) => f.name === n) };
  });
  return { kinds, kindIndex: (n) => kinds.findIndex((k) => k.name === n) };
}
function compileField(k, i, f) {
  const where2 = `layout: kind ${k.name} field ${f.name}`;
  if (f.type === "bytes") {
    if (f.velocity || f.wrap || f.bits || f.signed || big(f.min) !== 0n || big(f.max) !== 0n) {
      throw new Error(`${where2}: velocity, wrap, bits, signed or range on a bytes field`);
    }
    const maxLen = f.maxLen || DEFAULT_MAX_LEN;
    if (maxLen < 1 || maxLen > MAX_BYTES_LEN) throw new Error(`${where2}: max length ${maxLen}`);
    return {
      name: f.name,
      bytes: true,
      bits: 0,
      signed: false,
      wrap: false,
      min: 0n,
      max: 0n,
      any: false,
      vel: -1,
      ownerOnly: !!f.ownerOnly,
      maxLen,
      asNumber: false
    };
  }
  if (f.type !== "int") throw new Error(`${where2}: type ${String(f.type)}`);
  if (f.maxLen) throw new Error(`${where2}: max length on an int field`);
  const bits = f.bits || 64;
  if (bits < 1 || bits > 64) throw new Error(`${where2}: bits ${bits}: must be 0..64`);
  const signed = !!f.signed, wrap = !!f.wrap;
  let min, max;
  if (bits === 64 && signed) [min, max] = [-(1n << 63n), (1n << 63n) - 1n];
  else if (bits === 64) [min, max] = [0n, (1n << 63n) - 1n];
  else if (signed) [min, max] = [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n];
  else [min, max] = [0n, (1n << BigInt(bits)) - 1n];
  let any = bits === 64;
  const lo = big(f.min), hi = big(f.max);
  if (lo !== 0n || hi !== 0n) {
    if (wrap || lo > hi || lo < min || hi > max) throw new Error(`${where2}: range ${lo}..${hi}: must be within ${min}..${max}, and not on a wrapping field`);
    [min, max, any] = [lo, hi, false];
  }
  let vel = -1;
  if (f.velocity) {
    vel = k.fields.findIndex((g) => g.name === f.velocity);
    const v = k.fields[vel];
    if (!v) throw new Error(`${where2}: velocity ${f.velocity}: no such field`);
    if (vel === i) throw new Error(`${where2}: velocity ${f.velocity}: the field itself`);
    if (v.type !== "int") throw new Error(`${where2}: velocity ${f.velocity}: not an int field`);
    if (v.ownerOnly && !f.ownerOnly) throw new Error(`${where2}: velocity ${f.velocity}: owner-only, but the field is not`);
  }
  const asNumber = !any && min >= -SAFE2 && max <= SAFE2;
  return { name: f.name, bytes: false, bits, signed, wrap, min, max, any, vel, ownerOnly: !!f.ownerOnly, maxLen: 0, asNumber };
}
function big(x) {
  return x === void 0 ? 0n : BigInt(x);
}
function layoutFromSchema(s) {
  return {
    kinds: s.entities.map((t) => ({
      name: t.name,
      fields: t.fields.map((f) => {
        const base = { name: f.name, ownerOnly: f.ownerOnly, velocity: f.predict >= 0 ? t.fields[f.predict].name : void 0 };
        switch (f.type) {
          case "string":
          case "bytes":
            return { ...base, type: "bytes", maxLen: f.maxLen };
          case "float32":
          case "float64":
            return {
              ...base,
              type: "int",
              bits: 64,
              signed: true,
              ...f.range ? { min: BigInt(Math.floor(f.range.min / f.quantum)), max: BigInt(Math.ceil(f.range.max / f.quantum)) } : {}
            };
          case "bool":
            return { ...base, type: "int", bits: 1 };
          default: {
            const bits = Number(f.type.replace(/^u?int/, ""));
            return {
              ...base,
              type: "int",
              bits,
              signed: !f.type.startsWith("u"),
              ...f.range && f.type !== "uint64" ? { min: f.range.min, max: f.range.max } : {}
            };
          }
        }
      })
    }))
  };
}

// src/sha256.ts
var K = new Uint32Array([
  1116352408,
  1899447441,
  3049323471,
  3921009573,
  961987163,
  1508970993,
  2453635748,
  2870763221,
  3624381080,
  310598401,
  607225278,
  1426881987,
  1925078388,
  2162078206,
  2614888103,
  3248222580,
  3835390401,
  4022224774,
  264347078,
  604807628,
  770255983,
  1249150122,
  1555081692,
  1996064986,
  2554220882,
  2821834349,
  2952996808,
  3210313671,
  3336571891,
  3584528711,
  113926993,
  338241895,
  666307205,
  773529912,
  1294757372,
  1396182291,
  1695183700,
  1986661051,
  2177026350,
  2456956037,
  2730485921,
  2820302411,
  3259730800,
  3345764771,
  3516065817,
  3600352804,
  4094571909,
  275423344,
  430227734,
  506948616,
  659060556,
  883997877,
  958139571,
  1322822218,
  1537002063,
  1747873779,
  1955562222,
  2024104815,
  2227730452,
  2361852424,
  2428436474,
  2756734187,
  3204031479,
  3329325298
]);
function sha256(data) {
  const h = new Uint32Array([
    1779033703,
    3144134277,
    1013904242,
    2773480762,
    1359893119,
    2600822924,
    528734635,
    1541459225
  ]);
  const n = data.length;
  const total = Math.ceil((n + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(data);
  buf[n] = 128;
  const dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(n / 536870912));
  dv.setUint32(total - 4, n * 8 >>> 0);
  const w = new Uint32Array(64);
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a2 = w[i - 15], b2 = w[i - 2];
      const s0 = (a2 >>> 7 | a2 << 25) ^ (a2 >>> 18 | a2 << 14) ^ a2 >>> 3;
      const s1 = (b2 >>> 17 | b2 << 15) ^ (b2 >>> 19 | b2 << 13) ^ b2 >>> 10;
      w[i] = w[i - 16] + s0 + w[i - 7] + s1 >>> 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = (e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7);
      const ch = e & f ^ ~e & g;
      const t1 = k + S1 + ch + K[i] + w[i] >>> 0;
      const S0 = (a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10);
      const maj = a & b ^ a & c ^ b & c;
      const t2 = S0 + maj >>> 0;
      k = g;
      g = f;
      f = e;
      e = d + t1 >>> 0;
      d = c;
      c = b;
      b = a;
      a = t1 + t2 >>> 0;
    }
    h[0] = h[0] + a >>> 0;
    h[1] = h[1] + b >>> 0;
    h[2] = h[2] + c >>> 0;
    h[3] = h[3] + d >>> 0;
    h[4] = h[4] + e >>> 0;
    h[5] = h[5] + f >>> 0;
    h[6] = h[6] + g >>> 0;
    h[7] = h[7] + k >>> 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
  return out;
}
function hex(b) {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

// src/schema.ts
var scalarTypes = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"];
var typeSize2 = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
  string: 4,
  bytes: 4
};
var BT = { UType: 1, Bool: 2, Double: 12, String: 13, Vector: 14, Obj: 15, Union: 16, Byte: 3, UByte: 4 };
function kvs(t, slot) {
  return t.tables(slot).map((kv) => [kv.str(0), kv.str(1)]);
}
function parseAttrs(list) {
  const a = { ownerOnly: false, matchKey: false };
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
function namespace(name) {
  const i = name.lastIndexOf(".");
  return i >= 0 ? name.slice(0, i) : "";
}
function err(table, field, msg) {
  return new SchemaError(field ? `${table}.${field}: ${msg}` : `${table}: ${msg}`);
}
var i64min = -(1n << 63n);
var i64max = (1n << 63n) - 1n;
function limits2(t) {
  switch (t) {
    case "bool":
      return [0n, 1n];
    case "int8":
      return [-128n, 127n];
    case "uint8":
      return [0n, 255n];
    case "int16":
      return [-32768n, 32767n];
    case "uint16":
      return [0n, 65535n];
    case "int32":
      return [-(1n << 31n), (1n << 31n) - 1n];
    case "uint32":
      return [0n, (1n << 32n) - 1n];
    case "int64":
      return [i64min, i64max];
    case "uint64":
      return [0n, (1n << 64n) - 1n];
  }
  return [0n, 0n];
}
var intRe = /^[-+]?[0-9]+$/;
function parseFloatStrict(s) {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^[-+]?(inf|infinity|nan)$/i.test(s)) return NaN;
  return Number(s.replace(/^\+/, "").replace(/inf(inity)?$/i, "Infinity"));
}
var Loader = class {
  constructor(root, opts) {
    this.opts = opts;
    this.enums = /* @__PURE__ */ new Map();
    this.objects = root.tables(0);
    this.enumTables = root.tables(1);
  }
  load() {
    const entities = [];
    let input = -1, join = -1;
    const events = [-1, -1];
    const roles = /* @__PURE__ */ new Map();
    this.objects.forEach((o, i) => {
      const name2 = o.str(0);
      for (const [k, v] of kvs(o, 5)) {
        if (!k.startsWith("ticksync_")) continue;
        if (roles.has(i)) throw err(name2, "", `marked both (${roles.get(i)}) and (${k})`);
        roles.set(i, k);
        if (o.bool(2)) throw err(name2, "", `(${k}) marks a table, not a struct`);
        const once = (cur) => {
          if (cur >= 0) throw err(name2, "", `second table marked (${k})`);
          return i;
        };
        switch (k) {
          case "ticksync_entity": {
            const n = Number(v);
            if (!/^[1-9][0-9]*$/.test(v) || n > 65535) throw err(name2, "", `(ticksync_entity: "${v}"): the kind id must be 1..65535`);
            if (entities.some((e) => e.kind === n)) throw err(name2, "", `entity kind ${n} already used`);
            entities.push({ obj: i, name: name2, kind: n });
            break;
          }
          case "ticksync_input":
            input = once(input);
            break;
          case "ticksync_join":
            join = once(join);
            break;
          case "ticksync_events":
            if (v === "client") events[0] = once(events[0]);
            else if (v === "server") events[1] = once(events[1]);
            else throw err(name2, "", `(ticksync_events: "${v}"): must be "client" or "server"`);
            break;
          default:
            throw err(name2, "", `unknown attribute ${k}`);
        }
      }
    });
    if (input < 0) throw new SchemaError("no table marked (ticksync_input)");
    if (entities.length === 0) throw new SchemaError('no table marked (ticksync_entity: "kind")');
    const inputName = this.objects[input].str(0);
    const name = namespace(inputName);
    if (name === "") throw err(inputName, "", "declare a namespace: it names the game's schema");
    for (const o of [input, join, events[0], events[1], ...entities.map((e) => e.obj)]) {
      if (o >= 0 && namespace(this.objects[o].str(0)) !== name) {
        throw err(this.objects[o].str(0), "", `every marked table must be in namespace ${name}`);
      }
    }
    entities.sort((a, b) => a.kind - b.kind);
    const marked = new Set(roles.keys());
    const s = {
      name,
      entities: entities.map((e) => this.table(e.obj, "entity", e.kind)),
      input: this.table(input, "input", 0),
      join: join >= 0 ? this.table(join, "join", 0) : void 0,
      clientEvents: events[0] >= 0 ? this.events(events[0], marked) : void 0,
      serverEvents: events[1] >= 0 ? this.events(events[1], marked) : void 0,
      canonical: "",
      hash: ""
    };
    s.canonical = canonical(s);
    s.hash = hex(sha256(new TextEncoder().encode(s.canonical)));
    return s;
  }
  events(oi, marked) {
    const o = this.objects[oi];
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
        uenum = t.i32(2, -1);
      } else throw err(name, f.str(0), "a (ticksync_events) table holds only its union field");
    }
    if (union < 0 || utype !== union - 1) throw err(name, "", "a (ticksync_events) table holds exactly one union field");
    const e = this.enumTables[uenum];
    if (!e || !e.bool(2)) throw err(name, "", `union index ${uenum} out of range`);
    const ev = { wrapper: name, union: e.str(0), tables: [], members: [], typeSlot: utype, valueSlot: union };
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
  table(oi, role, kind) {
    const o = this.objects[oi];
    if (!o) throw new SchemaError(`object index ${oi} out of range`);
    const name = o.str(0);
    if (o.bool(2)) throw err(name, "", "a struct cannot be marked");
    const fields = [];
    const predicts = [];
    let numSlots = 0;
    const list = [];
    const seen = /* @__PURE__ */ new Set();
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
      if ((a.ownerOnly || a.predict !== void 0) && role !== "entity") {
        throw err(name, fname, `(${a.predict !== void 0 ? "predict" : "owner_only"}) on a field of a ${role} table`);
      }
      if (a.matchKey && role !== "join") throw err(name, fname, `(match_key) on a field of a ${role} table`);
      const t = f.table(1);
      if (!t) throw err(name, fname, "no type");
      const bt = t.u8(0);
      const first = fields.length;
      if (f.bool(11) && bt >= BT.Bool && bt <= BT.Double) throw err(name, fname, "optional scalars are not supported");
      if (bt >= BT.Bool && bt <= BT.Double) {
        const st = scalarTypes[bt - BT.Bool];
        this.leaf(name, fields, {
          name: fname,
          type: st,
          id,
          offset: 0,
          struct: 0,
          align: typeSize2[st],
          enumIndex: t.i32(2, -1),
          defaultInt: f.i64(4),
          defaultFloat: f.f64(5),
          ownerOnly: a.ownerOnly,
          matchKey: a.matchKey,
          required: false
        }, a);
      } else if (bt === BT.String || bt === BT.Vector) {
        let st = "string";
        if (bt === BT.Vector) {
          const el = t.u8(1);
          if (el !== BT.Byte && el !== BT.UByte || t.i32(2, -1) >= 0) throw err(name, fname, "only vectors of bytes are supported");
          st = "bytes";
        }
        this.leaf(name, fields, {
          name: fname,
          type: st,
          id,
          offset: 0,
          struct: 0,
          align: 4,
          enumIndex: -1,
          defaultInt: 0n,
          defaultFloat: 0,
          ownerOnly: a.ownerOnly,
          matchKey: a.matchKey,
          required: f.bool(7)
        }, a);
      } else if (bt === BT.Obj) {
        const so = this.objects[t.i32(2, -1)];
        if (!so) throw err(name, fname, "object index out of range");
        if (!so.bool(2)) throw err(name, fname, "nested tables are not supported");
        if (a.maxLen !== void 0) throw err(name, fname, "max_len on a struct");
        const size = so.i32(4), align = so.i32(3);
        this.flatten(name, fields, so, fname, 0, 1, a, id, size, align);
      } else {
        throw err(name, fname, `base type ${bt} is not supported`);
      }
      if (a.predict !== void 0) predicts.push({ field: fname, target: a.predict, first, last: fields.length });
    }
    const out = fields.map((f, i) => ({ ...f, index: i }));
    for (const p of predicts) {
      const vf = list.find((x) => x.f.str(0) === p.target);
      if (!vf) throw err(name, p.field, `(predict: "${p.target}"): no such field`);
      const vleaves = out.filter((f) => f.name === p.target || f.name.startsWith(p.target + "."));
      if (vleaves.length !== p.last - p.first) throw err(name, p.field, `(predict: "${p.target}"): leaves do not pair`);
      for (let j = p.first; j < p.last; j++) {
        const v = vleaves[j - p.first];
        const lt = out[j].type;
        if (!isNumeric(v.type) || v.enum || !isNumeric(lt)) throw err(name, p.field, `(predict: "${p.target}"): velocity must be numeric`);
        out[j].predict = v.index;
      }
    }
    if (out.length > this.opts.maxFields) throw err(name, "", `more than ${this.opts.maxFields} fields`);
    return {
      name,
      role,
      kind,
      fields: out,
      numSlots,
      field(n) {
        return out.find((f) => f.name === n);
      }
    };
  }
  flatten(table, fields, so, prefix, base, depth, outer, id, size, align) {
    if (depth > 8) throw err(table, prefix, "structs nest more than 8 deep");
    const list = so.tables(1).map((f) => ({ off: f.u16(3), f })).sort((a, b) => a.off - b.off);
    for (const { off, f } of list) {
      const name = prefix + "." + f.str(0);
      const own = parseAttrs(kvs(f, 9));
      if (own.matchKey) throw err(table, name, "(match_key) goes on the table's field, not inside the struct");
      const t = f.table(1);
      if (!t) throw err(table, name, "no type");
      const bt = t.u8(0);
      const a = { ...outer };
      const enumIndex = t.i32(2, -1);
      if (bt === BT.Bool || bt > BT.Bool && bt <= BT.Double && enumIndex >= 0) {
        a.quantum = void 0;
        a.range = void 0;
      }
      if (own.range !== void 0) a.range = own.range;
      if (own.quantum !== void 0) a.quantum = own.quantum;
      if (bt >= BT.Bool && bt <= BT.Double) {
        const st = scalarTypes[bt - BT.Bool];
        this.leaf(table, fields, {
          name,
          type: st,
          id,
          offset: base + off,
          struct: size,
          align,
          enumIndex,
          defaultInt: f.i64(4),
          defaultFloat: f.f64(5),
          ownerOnly: outer.ownerOnly,
          matchKey: outer.matchKey,
          required: false
        }, { ...a, maxLen: void 0, predict: void 0 });
        continue;
      }
      const sub = this.objects[enumIndex];
      if (bt !== BT.Obj || !sub || !sub.bool(2)) throw err(table, name, "a struct holds scalars and structs only");
      this.flatten(table, fields, sub, name, base + off, depth + 1, a, id, size, align);
    }
  }
  leaf(table, fields, f, a) {
    const isText = f.type === "string" || f.type === "bytes";
    const out = {
      name: f.name,
      index: 0,
      type: f.type,
      id: f.id,
      offset: f.offset,
      struct: f.struct,
      align: f.align,
      defaultInt: f.defaultInt,
      defaultFloat: f.defaultFloat,
      required: f.required,
      quantum: 0,
      predict: -1,
      ownerOnly: f.ownerOnly,
      matchKey: f.matchKey,
      maxLen: 0
    };
    if (f.enumIndex >= 0) out.enum = this.enumOf(f.enumIndex, f.type, table, f.name);
    if (a.maxLen !== void 0 && !isText) throw err(table, f.name, "max_len on a field that is not a string or bytes");
    if (a.quantum !== void 0 && (!isNumeric(f.type) || out.enum)) throw err(table, f.name, "quantum on a field that is not a number");
    if (a.range !== void 0 && (isText || f.type === "bool" || out.enum)) throw err(table, f.name, "range on a field that takes none");
    if (isText) {
      out.maxLen = this.opts.defaultMaxLen;
      if (a.maxLen !== void 0) {
        const n = Number(a.maxLen);
        if (!/^[0-9]+$/.test(a.maxLen) || n < 1 || n > 65536) throw err(table, f.name, `max_len "${a.maxLen}": must be 1..65536`);
        out.maxLen = n;
      }
      fields.push(out);
      return;
    }
    if (a.quantum !== void 0) {
      const q = parseFloatStrict(a.quantum);
      if (!(q > 0) || !Number.isFinite(q)) throw err(table, f.name, `quantum "${a.quantum}": must be a positive number`);
      out.quantum = q;
    }
    if (isFloat2(f.type) && out.quantum === 0) throw err(table, f.name, "a float needs a quantum");
    if (f.type === "float32") out.defaultFloat = Math.fround(out.defaultFloat);
    if (f.type === "uint64") out.defaultInt = BigInt.asUintN(64, out.defaultInt);
    if (a.range !== void 0) {
      const m = /^(.*)\.\.(.*)$/.exec(a.range);
      const bad2 = (why) => err(table, f.name, `range "${a.range}": ${why}`);
      if (!m) throw bad2('must be "lo..hi"');
      const [lo, hi] = [m[1], m[2]];
      if (isFloat2(f.type)) {
        const l = parseFloatStrict(lo), h = parseFloatStrict(hi);
        if (!Number.isFinite(l) || !Number.isFinite(h)) throw bad2("bounds must be finite numbers");
        if (l > h) throw bad2("lo above hi");
        out.range = { min: l, max: h };
      } else {
        if (!intRe.test(lo) || !intRe.test(hi)) throw bad2("bounds must be integers");
        const l = BigInt(lo), h = BigInt(hi);
        const [tl, th] = limits2(f.type);
        if (l < tl || h > th) throw bad2(`outside what a ${f.type} holds`);
        if (l > h) throw bad2("lo above hi");
        out.range = { min: l, max: h };
      }
    }
    fields.push(out);
  }
  enumOf(i, st, table, field) {
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
    values.sort((a, b) => a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
    let bitFlags = true;
    values.forEach((v, j) => {
      if (v.value <= 0n || (v.value & v.value - 1n) !== 0n) bitFlags = false;
      if (j > 0 && values[j - 1].value === v.value) bitFlags = false;
    });
    const out = { name: e.str(0), type: st, values, bitFlags };
    this.enums.set(i, out);
    return out;
  }
};
function isFloat2(t) {
  return t === "float32" || t === "float64";
}
function isInteger(t) {
  return t !== "bool" && !isFloat2(t) && t !== "string" && t !== "bytes";
}
function isNumeric(t) {
  return isInteger(t) || isFloat2(t);
}
function loadSchema(bfbs, options = {}) {
  const opts = { defaultMaxLen: 256, maxFields: 256, maxSchemaBytes: 1 << 20, ...options };
  if (bfbs.length > opts.maxSchemaBytes) throw new SchemaError(`schema of ${bfbs.length} bytes: larger than ${opts.maxSchemaBytes}`);
  if (bfbs.length < 8) throw new SchemaError("schema too short");
  return new Loader(new Reader(bfbs).root(), opts).load();
}
function formatFloat(x) {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expS] = x.toExponential().split("e");
  const exp = Number(expS);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let s;
  if (exp < -4 || exp >= 6) {
    s = digits[0] + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
  } else if (exp >= digits.length - 1) {
    s = digits + "0".repeat(exp - digits.length + 1);
  } else if (exp >= 0) {
    s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  } else {
    s = "0." + "0".repeat(-exp - 1) + digits;
  }
  return (neg ? "-" : "") + s;
}
function canonical(s) {
  let b = "ticksync-schema 1\n";
  b += `name ${s.name}
`;
  const enums = /* @__PURE__ */ new Map();
  const table = (t) => {
    b += `table ${t.name} ${t.role} ${t.kind} slots=${t.numSlots}
`;
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
      } else if (isFloat2(f.type)) {
        b += ` default=${formatFloat(f.defaultFloat)}`;
        if (f.range) b += ` range=${formatFloat(f.range.min)}..${formatFloat(f.range.max)}`;
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
  for (const [dir, e] of [["client", s.clientEvents], ["server", s.serverEvents]]) {
    if (!e) continue;
    b += `events ${dir} ${e.wrapper} ${e.union} type=${e.typeSlot} value=${e.valueSlot}
`;
    e.tables.forEach(table);
  }
  for (const n of [...enums.keys()].sort(cmpBytes)) {
    const e = enums.get(n);
    b += `enum ${e.name} ${e.type}`;
    if (e.bitFlags) b += " bit_flags";
    for (const v of e.values) b += ` ${v.name}=${v.value}`;
    b += "\n";
  }
  return b;
}
function cmpBytes(a, b) {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// src/client.ts
var ErrorCode = {
  BadRequest: 1,
  Unauthorized: 2,
  MatchNotFound: 3,
  MatchFull: 4,
  ResumeRefused: 5,
  Replaced: 6,
  Unavailable: 7,
  ShuttingDown: 8,
  NodeFull: 9,
  RateLimited: 12,
  Kicked: 13,
  MatchEnded: 14,
  JoinRefused: 15,
  SchemaMismatch: 16,
  EventFlood: 17
};
var CloseCode = {
  Normal: 1e3,
  GoingAway: 1001,
  Unsupported: 1003,
  Abnormal: 1006,
  Malformed: 1007,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  SlowConsumer: 4010,
  Redirect: 4011
};
var fatalCodes = /* @__PURE__ */ new Set([1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17]);
var fatalCloses = /* @__PURE__ */ new Set([1003, 1007, 1008, 1009]);
var TicksyncError = class extends Error {
  constructor(message2, code = 0, closeCode = 0, fatal = false) {
    super(message2);
    this.code = code;
    this.closeCode = closeCode;
    this.fatal = fatal;
    this.name = "TicksyncError";
  }
};
function connect(urls, options = {}) {
  return new Client(urls, options);
}
var Client = class {
  constructor(urls, options = {}) {
    this.options = options;
    this.schemas = /* @__PURE__ */ new Map();
    const list = (typeof urls === "string" ? [urls] : [...urls]).map(toWebSocketURL);
    if (list.length === 0) throw new TypeError("connect: no URL");
    for (const u of list) new URL(u);
    this.urls = list;
  }
  /** schema returns a game's schema, fetched once (GET /games/{game}/schema from the first node that answers). */
  schema(game) {
    let p = this.schemas.get(game);
    if (!p) {
      p = this.fetchSchema(game);
      this.schemas.set(game, p);
      p.catch(() => this.schemas.delete(game));
    }
    return p;
  }
  async fetchSchema(game) {
    const f = this.options.fetch ?? globalThis.fetch;
    if (!f) throw new TicksyncError("no fetch: pass ClientOptions.fetch or JoinOptions.schema", 0, 0, true);
    let last = "";
    for (const u of this.urls) {
      const url = schemaURL(u, game);
      let resp;
      try {
        resp = await withTimeout(f(url), this.options.connectTimeoutMs ?? 5e3, `GET ${url}`);
      } catch (e) {
        last = `GET ${url}: ${String(e)}`;
        continue;
      }
      if (resp.status === 404) throw new TicksyncError(`game ${game}: the node has no such game with a schema (GET ${url}: 404)`, 0, 0, true);
      if (!resp.ok) {
        last = `GET ${url}: HTTP ${resp.status}`;
        continue;
      }
      return loadSchema(new Uint8Array(await resp.arrayBuffer()));
    }
    throw new TicksyncError(`schema of ${game}: ${last}`, 0, 0, true);
  }
  /** joinOrCreate seats the player in a match of game (matchmaking), with the game's join payload. */
  async joinOrCreate(game, joinPayload, options = {}) {
    if (!game) throw new TypeError("joinOrCreate: no game");
    const schema = options.schema ? asSchema(options.schema) : await this.schema(game);
    const room = new Room(this, { game, matchId: "", schema, joinPayload });
    await room.started;
    return room;
  }
  /** join seats the player in the match matchId. */
  async join(matchId, joinPayload, options = {}) {
    if (!matchId) throw new TypeError("join: no match id");
    let schema;
    if (options.schema) schema = asSchema(options.schema);
    else if (options.game) schema = await this.schema(options.game);
    if (joinPayload && !schema) throw new TypeError("join with a payload needs JoinOptions.game or JoinOptions.schema");
    const room = new Room(this, { game: options.game ?? schema?.name ?? "", matchId, schema, joinPayload });
    await room.started;
    return room;
  }
};
function asSchema(s) {
  return s instanceof Uint8Array ? loadSchema(s) : s;
}
var baseBackoffMs = 250;
var maxRedirects = 5;
var nodesRefreshMs = 1e4;
var nodesTimeoutMs = 3e3;
var maxPendingEvents = 1024;
var maxEventBytes = 4096;
var MaxHeldEvents = 256;
var Room = class {
  /** @internal Rooms are made by Client.join and Client.joinOrCreate. */
  constructor(client, init) {
    this.client = client;
    this.st = "joining";
    this.inputData = new Uint8Array(0);
    this.resumeToken = "";
    this.playerIdV = 0;
    this.entityIdV = 0;
    this.nodeIdV = "";
    this.tickRateV = 30;
    this.seated = false;
    this.ws = null;
    this.seq = 0;
    // input seq, counted across resumes
    this.eventSeq = 0;
    // the newest client event seq given
    this.pending = [];
    this.serverEventAck = 0;
    this.lastSnapshotAt = 0;
    this.attempt = 0;
    this.order = [];
    this.orderPos = 0;
    this.redirectsInARow = 0;
    this.pendingRedirect = "";
    this.stalled = false;
    this.stalledURL = "";
    this.nodesV = [];
    this.fetchingNodes = false;
    this.inputSentAt = new Float64Array(256);
    this.statsV = {
      bytesReceived: 0,
      snapshots: 0,
      fullSnapshots: 0,
      badSnapshots: 0,
      inputSeq: 0,
      lastInputSeq: 0,
      inputRttMs: 0,
      pingMs: 0,
      welcomes: 0,
      reconnects: 0,
      stalls: 0,
      redirects: 0,
      lastClose: 0
    };
    this.stateCbs = [];
    this.eventCbs = [];
    this.errorCbs = [];
    // What arrived with no listener for it, for the first one registered.
    this.heldEvents = [];
    this.flushQueued = false;
    this.opts = client.options;
    const WS = this.opts.WebSocket ?? globalThis.WebSocket;
    if (!WS) throw new TypeError("no WebSocket: pass ClientOptions.WebSocket (in Node 20, the ws package's)");
    this.WS = WS;
    this.known = [...client.urls];
    this.url_ = this.known[0];
    this.gameV = init.game;
    this.matchIdV = init.matchId;
    if (init.schema) this.setSchema(init.schema);
    if (init.joinPayload) {
      const s = this.schemaV;
      if (!s.join) throw new TypeError(`${s.name} takes no join payload`);
      this.joinBytes = encodeTable(s.join, init.joinPayload);
    }
    this.started = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.started.catch(() => {
    });
    this.joinTimer = setTimeout(() => {
      this.fail(new TicksyncError(`join: not seated within ${this.joinTimeoutMs()} ms`, ErrorCode.Unavailable, 0, true));
    }, this.joinTimeoutMs());
    this.open(this.url_);
  }
  /** The room's state: joining (before the first Welcome), playing, reconnecting (resuming), closed. */
  get state() {
    return this.st;
  }
  /** The game's schema. */
  get schema() {
    return this.schemaV;
  }
  get game() {
    return this.gameV;
  }
  get matchId() {
    return this.matchIdV;
  }
  /** The player's id in the match (Welcome.player_id). */
  get playerId() {
    return this.playerIdV;
  }
  /** The player's own entity, if the game gave it one (0: none). */
  get entityId() {
    return this.entityIdV;
  }
  /** The node the room is connected to (Welcome.node_id). */
  get nodeId() {
    return this.nodeIdV;
  }
  /** Ticks per second. */
  get tickRate() {
    return this.tickRateV;
  }
  /** The newest tick applied (the delta baseline acknowledged). */
  get tick() {
    return this.rx?.newest ?? 0;
  }
  /** The game endpoint of the current connection (or of the next attempt while reconnecting). */
  get url() {
    return this.url_;
  }
  /**
   * The client URLs of the cluster's live nodes, as the node played on last
   * listed them (ClientOptions.discoverNodes; empty until then). A failed
   * fetch or an empty list keeps the list held.
   */
  get nodes() {
    return this.nodesV;
  }
  /** What the room saw so far (RoomStats), updated in place. */
  get stats() {
    return this.statsV;
  }
  /**
   * onState calls cb with each new world (ticks ascending). If worlds
   * arrived while no onState listener was registered, the newest of them
   * is handed to the listeners registered then, in a microtask (not during
   * this call). It returns a function that removes cb.
   */
  onState(cb) {
    const off = add(this.stateCbs, cb);
    if (this.heldState) this.queueFlush();
    return off;
  }
  /**
   * onEvent calls cb with each server event, once, in seq order. Events
   * that arrived while no onEvent listener was registered (the newest
   * MaxHeldEvents, 256) are handed to the listeners registered then, in a
   * microtask (not during this call), before any later event; a listener
   * registered after that does not get them again. It returns a function
   * that removes cb.
   */
  onEvent(cb) {
    const off = add(this.eventCbs, cb);
    if (this.heldEvents.length > 0) this.queueFlush();
    return off;
  }
  /**
   * onError calls cb with what went wrong: fatal errors (the room is
   * closed) and passing ones (a connection lost and being resumed, a
   * snapshot or event that could not be read). It returns a function that
   * removes cb.
   */
  onError(cb) {
    return add(this.errorCbs, cb);
  }
  /**
   * sendInput sets the input sent with every tick from the next one on
   * (until replaced), built from values with the schema's input table. It
   * throws a TypeError or RangeError for values the table does not take.
   */
  sendInput(values) {
    this.inputData = encodeTable(this.schema.input, values);
  }
  /**
   * sendEvent sends a client event (a member of the schema's client event
   * union, by member or table name) reliably: it returns the event's seq; the
   * event is sent again after a resume until the match has applied it. It
   * throws for an event the schema does not have, bad values, or a closed room.
   */
  sendEvent(name, values = {}) {
    if (this.st === "closed") throw new TicksyncError("sendEvent: the room is closed", 0, 0, true);
    const ev = this.schema.clientEvents;
    if (!ev) throw new TypeError(`${this.schema.name} takes no events from clients`);
    const data = encodeEvent(ev, name, values);
    if (data.length > maxEventBytes) throw new RangeError(`event ${name}: ${data.length} bytes: at most ${maxEventBytes}`);
    if (this.pending.length >= maxPendingEvents) throw new RangeError(`sendEvent: ${maxPendingEvents} events not yet applied by the match`);
    const seq = ++this.eventSeq;
    this.pending.push({ seq, data });
    if (this.st === "playing") this.send({ kind: "event", seq, tick: 0, data });
    return seq;
  }
  /** The client events sent and not yet applied by the match. */
  get unacknowledgedEvents() {
    return this.pending.length;
  }
  /** close leaves the match (Leave, then close 1000) and stops the room. Idempotent. */
  close() {
    if (this.st === "closed") return;
    const ws = this.ws;
    this.stop();
    if (ws && ws.readyState === 1) {
      try {
        ws.send(encodeClient({ kind: "leave" }));
        ws.close(CloseCode.Normal, "leave");
      } catch {
      }
    } else if (ws) {
      detach(ws);
    }
    this.settle?.reject(new TicksyncError("the room was closed", 0, 0, true));
    this.settle = void 0;
  }
  // ---- connection ----------------------------------------------------------
  isClosed() {
    return this.st === "closed";
  }
  joinTimeoutMs() {
    return this.opts.joinTimeoutMs ?? 3e4;
  }
  setSchema(s) {
    this.codec = compileLayout(layoutFromSchema(s));
    this.schemaV = s;
    this.inputData = encodeTable(s.input, {});
    this.views = new EntityViews(s);
  }
  open(url) {
    clearTimeout(this.retryTimer);
    this.url_ = url;
    let ws;
    try {
      ws = new this.WS(url);
    } catch (e) {
      this.report(new TicksyncError(`cannot connect to ${url}: ${String(e)}`));
      this.retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    clearTimeout(this.watchdog);
    let wait = this.opts.connectTimeoutMs ?? 5e3;
    if (this.stalledURL !== "" && url === this.stalledURL && this.stallMs() > 0) wait = Math.min(wait, this.stallMs());
    this.watchdog = setTimeout(() => {
      if (this.ws === ws) this.drop(ws, `no Welcome from ${url} within ${wait} ms`);
    }, wait);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.resumeToken !== "";
      ws.send(encodeClient({
        kind: "hello",
        token: this.opts.token,
        matchId: this.matchIdV,
        resumeToken: this.resumeToken,
        lastTick: resume ? this.rx?.newest ?? 0 : 0,
        name: this.opts.name,
        game: this.gameV,
        join: resume ? void 0 : this.joinBytes,
        schemaHash: this.schemaV?.hash ?? "",
        // The newest server event held: a node that adopted the match
        // after a failover numbers the seat's events after it.
        eventAck: resume ? this.serverEventAck : 0
      }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const d = ev.data;
      let buf;
      if (d instanceof ArrayBuffer) buf = new Uint8Array(d);
      else if (ArrayBuffer.isView(d)) buf = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      else {
        this.report(new TicksyncError("a text frame from the node"));
        return;
      }
      this.statsV.bytesReceived += buf.byteLength;
      let msg;
      try {
        msg = decodeServer(buf);
      } catch (e) {
        this.report(new TicksyncError(String(e)));
        return;
      }
      this.handle(ws, msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.statsV.lastClose = ev.code ?? CloseCode.Abnormal;
      this.closed(ev.code ?? CloseCode.Abnormal, ev.reason ?? "");
    };
    ws.onerror = () => {
    };
  }
  /** drop lets go of ws at once (a stopped node may never answer a close) and goes on as after a loss. */
  drop(ws, why) {
    if (this.ws !== ws) return;
    this.ws = null;
    detach(ws);
    this.statsV.lastClose = CloseCode.Abnormal;
    this.closed(CloseCode.Abnormal, why);
  }
  send(m) {
    const ws = this.ws;
    if (ws && ws.readyState === 1) ws.send(encodeClient(m));
  }
  handle(ws, m) {
    switch (m.kind) {
      case "welcome":
        this.welcome(ws, m);
        break;
      case "snapshot":
        this.lastSnapshotAt = Date.now();
        this.snapshot(m);
        break;
      case "redirect":
        this.pendingRedirect = toWebSocketURL(m.url);
        if (m.matchId) this.matchIdV = m.matchId;
        if (!this.known.includes(this.pendingRedirect)) this.known.push(this.pendingRedirect);
        this.statsV.redirects++;
        this.drop(ws, "redirected");
        break;
      case "error":
        this.lastError = { code: m.code, message: m.message };
        break;
      case "pong": {
        const sent = Number(m.clientTime) / 1e3;
        if (sent > 0) this.statsV.pingMs = Math.max(0, Math.round(now() - sent));
        break;
      }
    }
  }
  welcome(ws, w) {
    clearTimeout(this.watchdog);
    if (w.schemaHash === "") {
      this.fail(new TicksyncError(`match ${w.matchId} (game ${w.game}) has no game schema: this client plays only games with one`, 0, 0, true));
      return;
    }
    if (this.schemaV && w.schemaHash !== this.schemaV.hash) {
      this.fail(new TicksyncError(`schema mismatch: the match speaks ${w.game} ${w.schemaHash}, this client ${this.schemaV.name} ${this.schemaV.hash}`, ErrorCode.SchemaMismatch, 0, true));
      return;
    }
    const sameSeat = this.seated && w.matchId === this.matchIdV && w.playerId === this.playerIdV;
    if (this.rx && (!sameSeat || w.nodeId !== this.nodeIdV || w.serverTick < this.rx.newest)) this.rx.reset();
    this.resumeToken = w.resumeToken;
    this.matchIdV = w.matchId;
    this.playerIdV = w.playerId;
    this.entityIdV = w.entityId;
    this.nodeIdV = w.nodeId;
    if (w.game) this.gameV = w.game;
    this.tickRateV = w.tickRate > 0 ? w.tickRate : 30;
    this.seated = true;
    this.statsV.welcomes++;
    if (this.schemaV) {
      this.play(ws, w.eventSeq);
      return;
    }
    this.client.schema(w.game).then((s) => {
      if (this.ws !== ws) return;
      if (s.hash !== w.schemaHash) {
        this.fail(new TicksyncError(`schema mismatch: the match speaks ${w.game} ${w.schemaHash}, the node serves ${s.hash}`, ErrorCode.SchemaMismatch, 0, true));
        return;
      }
      try {
        this.setSchema(s);
      } catch (e) {
        this.fail(new TicksyncError(`schema of ${w.game}: ${String(e)}`, 0, 0, true));
        return;
      }
      this.play(ws, w.eventSeq);
    }, (e) => this.fail(e instanceof TicksyncError ? e : new TicksyncError(String(e), 0, 0, true)));
  }
  /** play starts the seated connection: events to re-send, the input timer, the stall watch. */
  play(ws, eventSeq) {
    if (!this.rx) this.rx = new Receiver(this.codec, { player: this.playerIdV, history: this.opts.history ?? 64 });
    this.st = "playing";
    this.attempt = 0;
    this.order = [];
    this.redirectsInARow = 0;
    this.stalled = false;
    this.stalledURL = "";
    this.lastError = void 0;
    this.ackEvents(eventSeq);
    for (const p of this.pending) this.send({ kind: "event", seq: p.seq, tick: 0, data: p.data });
    clearInterval(this.inputTimer);
    this.inputTimer = setInterval(() => this.tickInput(ws), 1e3 / this.tickRateV);
    this.tickInput(ws);
    this.lastSnapshotAt = Date.now();
    clearInterval(this.stallTimer);
    const stallMs = this.stallMs();
    if (stallMs > 0) {
      this.stallTimer = setInterval(() => {
        if (this.ws === ws && this.st === "playing" && Date.now() - this.lastSnapshotAt > stallMs) {
          this.stalled = true;
          this.stalledURL = this.url_;
          this.statsV.stalls++;
          this.report(new TicksyncError(`no snapshot for ${stallMs} ms: resuming`));
          this.drop(ws, "stalled");
        }
      }, Math.min(250, stallMs / 4));
    }
    clearInterval(this.pingTimer);
    const pingMs = this.opts.pingIntervalMs ?? 0;
    if (pingMs > 0) {
      this.pingTimer = setInterval(() => {
        if (this.ws === ws && this.st === "playing") this.send({ kind: "ping", clientTime: BigInt(Math.round(now() * 1e3)) });
      }, pingMs);
    }
    if (this.opts.discoverNodes) {
      if (this.nodesTimer === void 0) this.nodesTimer = setInterval(() => this.refreshNodes(), nodesRefreshMs);
      this.refreshNodes();
    }
    clearTimeout(this.joinTimer);
    this.settle?.resolve();
    this.settle = void 0;
  }
  /**
   * refreshNodes asks the node played on for the cluster's live nodes, one
   * fetch at a time. A failure (a node without the endpoint, a timeout, a
   * malformed answer) or an empty list keeps the list held. The URLs given
   * to connect stay in the failover order, after the listed ones.
   */
  refreshNodes() {
    if (this.fetchingNodes || this.st !== "playing") return;
    const f = this.opts.fetch ?? globalThis.fetch;
    if (!f) return;
    this.fetchingNodes = true;
    const url = clusterURL(this.url_);
    withTimeout(f(url), nodesTimeoutMs, `GET ${url}`).then((resp) => {
      if (!resp.ok) throw new Error(`GET ${url}: HTTP ${resp.status}`);
      return resp.arrayBuffer();
    }).then((body2) => {
      const nodes = parseNodes(new TextDecoder().decode(body2));
      if (nodes.length === 0 || this.st === "closed") return;
      this.nodesV = nodes;
      const known = [...nodes];
      for (const u of this.client.urls) if (!known.includes(u)) known.push(u);
      this.known = known;
    }).catch(() => {
    }).finally(() => {
      this.fetchingNodes = false;
    });
  }
  stallMs() {
    const ms = this.opts.stallTimeoutMs ?? 2e3;
    return ms <= 0 ? 0 : Math.max(ms, 8e3 / this.tickRateV);
  }
  ackEvents(seq) {
    if (this.pending.length > 0 && this.pending[0].seq <= seq) this.pending = this.pending.filter((p) => p.seq > seq);
  }
  tickInput(ws) {
    if (this.ws !== ws || ws.readyState !== 1) return;
    this.seq = this.seq + 1 >>> 0;
    this.statsV.inputSeq = this.seq;
    this.inputSentAt[this.seq % this.inputSentAt.length] = now();
    const ack = this.rx?.newest ?? 0;
    this.send({ kind: "input", seq: this.seq, targetTick: ack + 1, ackTick: ack, data: this.inputData, eventAck: this.serverEventAck });
  }
  snapshot(m) {
    const s = this.schemaV;
    if (!s || !this.rx || this.st !== "playing") return;
    this.ackEvents(m.eventSeq);
    const st = this.statsV;
    if (m.lastInputSeq > st.lastInputSeq && m.lastInputSeq <= this.seq) {
      const sent = this.inputSentAt[m.lastInputSeq % this.inputSentAt.length];
      if (sent > 0) st.inputRttMs = Math.max(0, Math.round(now() - sent));
      st.lastInputSeq = m.lastInputSeq;
    }
    for (const e of m.events) {
      if (e.seq <= this.serverEventAck) continue;
      this.serverEventAck = e.seq;
      if (!s.serverEvents) {
        this.report(new TicksyncError(`server event ${e.seq}: ${s.name} declares no server events`));
        continue;
      }
      let d;
      try {
        d = decodeEvent(s.serverEvents, e.data);
      } catch (err2) {
        this.report(new TicksyncError(`server event ${e.seq}: ${String(err2)}`));
        continue;
      }
      const ev = { seq: e.seq, tick: e.tick, name: d.name, table: d.table, values: d.values };
      if (this.eventCbs.length === 0 || this.flushQueued) {
        this.heldEvents.push(ev);
        if (this.heldEvents.length > MaxHeldEvents) this.heldEvents.splice(0, this.heldEvents.length - MaxHeldEvents);
        continue;
      }
      for (const cb of [...this.eventCbs]) call(() => cb(ev));
      if (this.isClosed()) return;
    }
    let world;
    try {
      world = this.rx.apply(m.tick, m.baselineTick, m.state);
    } catch (e) {
      if (!(e instanceof DeltaError)) throw e;
      if (e.code !== "stale") st.badSnapshots++;
      if (e.code === "bad") this.report(new TicksyncError(`snapshot ${m.tick}: ${e.message}`));
      return;
    }
    st.snapshots++;
    if (m.baselineTick === 0) st.fullSnapshots++;
    const gw = new GameWorld(world, this.views);
    if (this.stateCbs.length === 0 || this.flushQueued) {
      this.heldState = { world: gw, tick: m.tick };
      return;
    }
    this.heldState = void 0;
    for (const cb of [...this.stateCbs]) call(() => cb(gw, m.tick));
  }
  /** queueFlush hands what was held to the listeners registered, in a microtask: the registering call returns first. */
  queueFlush() {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }
  /**
   * flush hands the held events (seq order) to the onEvent listeners, then
   * the held world to the onState listeners; what has no listener yet stays
   * held. A listener that closes the room stops it, as in snapshot.
   */
  flush() {
    this.flushQueued = false;
    const wasClosed = this.isClosed();
    if (this.heldEvents.length > 0 && this.eventCbs.length > 0) {
      const evs = this.heldEvents;
      this.heldEvents = [];
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i];
        for (const cb of [...this.eventCbs]) call(() => cb(ev));
        if (!wasClosed && this.isClosed()) return;
        if (this.eventCbs.length === 0) {
          this.heldEvents = evs.slice(i + 1).concat(this.heldEvents);
          break;
        }
      }
    }
    if (this.heldState && this.stateCbs.length > 0) {
      const { world, tick } = this.heldState;
      this.heldState = void 0;
      for (const cb of [...this.stateCbs]) call(() => cb(world, tick));
    }
  }
  /** closed decides what a closed socket means (the README's close-code table). */
  closed(code, reason) {
    clearInterval(this.inputTimer);
    clearInterval(this.stallTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.watchdog);
    if (this.st === "closed") return;
    if (this.st === "playing") this.st = "reconnecting";
    if (this.pendingRedirect) {
      const url = this.pendingRedirect;
      this.pendingRedirect = "";
      if (++this.redirectsInARow <= maxRedirects) {
        this.open(url);
        return;
      }
      this.redirectsInARow = 0;
      this.report(new TicksyncError(`too many redirects (last to ${url})`));
      this.retry();
      return;
    }
    const err2 = this.lastError;
    this.lastError = void 0;
    let ecode = err2?.code ?? 0;
    if (ecode === 0 && code > 4e3 && code < 4100 && code !== CloseCode.SlowConsumer && code !== CloseCode.Redirect) ecode = code - 4e3;
    const text2 = err2?.message || reason || `connection closed (${code})`;
    if (fatalCodes.has(ecode) || ecode === 0 && fatalCloses.has(code)) {
      this.fail(new TicksyncError(ecode ? `${text2} (error ${ecode})` : `${text2} (close ${code})`, ecode, code, true));
      return;
    }
    this.report(new TicksyncError(`${text2}: reconnecting`, ecode, code, false));
    this.redirectsInARow = 0;
    this.retry();
  }
  /** retry schedules the next connection: where we were first, then the cluster's other URLs in turn. */
  retry() {
    if (this.st === "closed") return;
    if (this.order.length === 0) {
      this.order = failoverOrder(this.url_, this.known);
      if (this.stalled && this.order.length > 1) this.order.push(this.order.shift());
      this.orderPos = 0;
    }
    const url = this.order[this.orderPos++ % this.order.length];
    this.statsV.reconnects++;
    const max = this.opts.maxBackoffMs ?? 2e3;
    const ms = Math.min(max, baseBackoffMs * 2 ** Math.min(this.attempt++, 5)) * (0.5 + Math.random() / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(url), ms);
  }
  report(e) {
    for (const cb of [...this.errorCbs]) call(() => cb(e));
  }
  /** fail closes the room for good and tells the listeners (and a pending join) why. */
  fail(e) {
    if (this.st === "closed") return;
    const ws = this.ws;
    this.stop();
    if (ws) {
      detach(ws);
      try {
        ws.close(CloseCode.Normal, "closed");
      } catch {
      }
    }
    if (this.settle) {
      this.settle.reject(e);
      this.settle = void 0;
    }
    this.report(e);
  }
  stop() {
    this.st = "closed";
    this.ws = null;
    clearInterval(this.inputTimer);
    clearInterval(this.stallTimer);
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    clearTimeout(this.joinTimer);
    clearInterval(this.pingTimer);
    clearInterval(this.nodesTimer);
  }
};
function now() {
  const p = globalThis.performance;
  return p ? p.now() : Date.now();
}
function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {
  };
  try {
    ws.close();
  } catch {
  }
}
function add(list, cb) {
  list.push(cb);
  return () => {
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  };
}
function call(f) {
  try {
    f();
  } catch (e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }
}
function failoverOrder(current, known) {
  const out = [current];
  const at = known.indexOf(current);
  const rotated = at < 0 ? known : [...known.slice(at + 1), ...known.slice(0, at)];
  for (const u of rotated) if (!out.includes(u)) out.push(u);
  return out;
}
function toWebSocketURL(u) {
  if (u.startsWith("https://")) return "wss://" + u.slice(8);
  if (u.startsWith("http://")) return "ws://" + u.slice(7);
  return u;
}
function schemaURL(wsURL, game) {
  const u = new URL(wsURL);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  const out = new URL(`games/${encodeURIComponent(game)}/schema`, u);
  out.search = "";
  out.hash = "";
  return out.toString();
}
function clusterURL(wsURL) {
  const u = new URL(wsURL);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  const out = new URL("v1/cluster", u);
  out.search = "";
  out.hash = "";
  return out.toString();
}
function parseNodes(text2) {
  let v;
  try {
    v = JSON.parse(text2);
  } catch {
    return [];
  }
  const nodes = v?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out = [];
  for (const n of nodes) {
    const raw = n?.url;
    if (typeof raw !== "string") return [];
    const u = toWebSocketURL(raw);
    try {
      const p = new URL(u).protocol;
      if (p !== "ws:" && p !== "wss:") return [];
    } catch {
      return [];
    }
    if (!out.includes(u)) out.push(u);
  }
  return out;
}
export {
  Client,
  CloseCode,
  Decoder,
  DeltaError,
  Entity,
  ErrorCode,
  FbTable,
  FileIdentifier,
  GameEntity,
  GameWorld,
  MaxHeldEvents,
  MaxSnapshotEvents,
  ProtocolError,
  Receiver,
  Room,
  SchemaError,
  TicksyncError,
  World,
  buildTable,
  clusterURL,
  compileLayout,
  connect,
  decodeClient,
  decodeEvent,
  decodeServer,
  decodeTable,
  encodeClient,
  encodeEvent,
  encodeServer,
  encodeTable,
  eventMember,
  failoverOrder,
  finish,
  formatFloat,
  hex,
  isBigField,
  layoutFromSchema,
  loadSchema,
  parseNodes,
  schemaURL,
  sha256,
  toWebSocketURL
};
