// Package boltcheck verifies the structure of a bbolt database file before
// bbolt opens it.
//
// bbolt trusts its file: it maps it into memory and follows page ids, element
// offsets and counts without bounds checks, so a damaged page makes it panic
// (index out of range), fault on an address past the mapping, recurse for
// ever on a cycle, or hand a page that is still in use to the next write. None
// of that can be recovered from reliably once it happens on another goroutine
// (Raft's). Check reads the file with plain, bounds-checked reads instead and
// walks what bbolt would walk:
//
//   - both meta pages: magic, version, checksum, page size, and a page header
//     that matches its position and transaction id;
//   - the high-water mark against the file's size (a truncated file);
//   - the freelist page: type, position, count, ids in range, sorted, unique;
//   - every page reachable from the root bucket, depth first: in range,
//     referenced once, not free, a header naming its own id, a branch or leaf
//     type, elements and their keys and values inside the page, keys in
//     strictly ascending order; sub-buckets (on pages or inline) the same way;
//   - every page under the high-water mark is either reachable or free.
//
// Data flows one way: Check → the caller's visit function, once for every
// key/value pair (not for sub-bucket entries), in key order within each
// bucket. What it cannot see: bbolt keeps no checksums of data pages, so
// bytes changed inside a value, or inside the continuation of a page that
// overflows onto the next ones (no header there), pass unless the caller's
// visit function recognises them as wrong.
//
// The file layout is bbolt's (v1.3.x and v1.4.x share it): native byte
// order, a 16-byte page header {id u64, flags u16, count u16, overflow u32},
// 16-byte branch elements {pos u32, ksize u32, pgid u64} and leaf elements
// {flags u32, pos u32, ksize u32, vsize u32}, positions relative to the
// element, and a 64-byte meta {magic, version, page size, flags, root bucket
// {root, sequence}, freelist, pgid, txid, checksum (FNV-64a of the rest)}.
package boltcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

const (
	magic          = 0xED0CDAED
	formatVersion  = 2
	pageHeaderSize = 16
	elementSize    = 16 // branch and leaf elements alike
	bucketHeader   = 16 // {root pgid, sequence}
	metaSize       = 64
	metaSumSize    = 56 // the checksum covers the meta up to itself

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10

	leafBucket = 0x01 // a leaf element whose value is a sub-bucket

	noFreelist = ^uint64(0) // NoFreelistSync: bbolt rebuilds the freelist
	maxDepth   = 64         // a real tree is a handful of levels deep; so is bucket nesting
)

var order = binary.NativeEndian

// ErrNotBolt: the file is not a bbolt database at all (too short, or
// neither meta page carries bbolt's magic number).
var ErrNotBolt = errors.New("not a bbolt database")

// CorruptError describes the first problem found. Page is the page at fault
// (0 or 1 for a meta page); Problem says what is wrong with it.
type CorruptError struct {
	Page    uint64
	Problem string
	err     error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("page %d: %s", e.Page, e.Problem) }

// Unwrap is for errNoMagic.
func (e *CorruptError) Unwrap() error { return e.err }

var errNoMagic = errors.New("no magic number")

// Info describes a file that passed.
type Info struct {
	PageSize  int
	TxID      uint64 // the transaction of the meta page in use
	HighWater uint64 // pages in use or free, from page 0
	FreePages int
	FileSize  int64
}

// Visit is called once for every key/value pair, with the names of the
// buckets that hold it (outermost first). Key and value are only valid
// during the call. A non-nil error stops the check and is returned as is.
type Visit func(buckets [][]byte, key, value []byte) error

// Check verifies the bbolt file at path (see the package doc) without
// modifying it, calling visit (if not nil) for every key/value pair. It
// returns a *CorruptError for a damaged file, an error wrapping ErrNotBolt
// for a file that is not a bbolt database, visit's error, or an I/O error.
// It never panics; it reads each page about once.
func Check(path string, visit Visit) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	return CheckReader(f, st.Size(), visit)
}

// CheckReader is Check on r, a file of size bytes.
func CheckReader(r io.ReaderAt, size int64, visit Visit) (info Info, err error) {
	defer func() { // a bug here must not take the caller down with it
		if p := recover(); p != nil {
			info, err = Info{}, fmt.Errorf("boltcheck: internal error: %v", p)
		}
	}()
	c := &checker{r: r, size: size, visit: visit}
	return c.run()
}

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

type checker struct {
	r     io.ReaderAt
	size  int64
	visit Visit

	pageSize int
	meta     meta
	free     bitmap
	used     bitmap
	path     [][]byte
}

func corrupt(page uint64, format string, a ...any) error {
	return &CorruptError{Page: page, Problem: fmt.Sprintf(format, a...)}
}

func (c *checker) run() (Info, error) {
	if c.size < 2*1024 {
		return Info{}, fmt.Errorf("%w: %d bytes", ErrNotBolt, c.size)
	}
	m0, err0 := c.readMeta(0, 0)
	if err0 != nil {
		// Is it bbolt at all? Then page 1 is at the OS page size, as bbolt assumes.
		_, err1 := c.readMeta(1, int64(os.Getpagesize()))
		if errors.Is(err0, errNoMagic) && errors.Is(err1, errNoMagic) {
			return Info{}, fmt.Errorf("%w: neither meta page has bbolt's magic number", ErrNotBolt)
		}
		return Info{}, err0
	}
	c.pageSize = int(m0.pageSize)
	m1, err := c.readMeta(1, int64(c.pageSize))
	if err != nil {
		return Info{}, err
	}
	if m1.pageSize != m0.pageSize {
		return Info{}, corrupt(1, "page size %d, but page 0 says %d", m1.pageSize, m0.pageSize)
	}
	c.meta = m0
	if m1.txid > m0.txid {
		c.meta = m1
	}
	m := c.meta
	ps := uint64(c.pageSize)
	if m.pgid < 4 || m.pgid > uint64(c.size)/ps {
		return Info{}, corrupt(m.txid%2, "high-water mark %d pages (%d bytes) does not fit the file's %d bytes: truncated?",
			m.pgid, m.pgid*ps, c.size)
	}
	c.free = newBitmap(m.pgid)
	c.used = newBitmap(m.pgid)
	c.used.set(0)
	c.used.set(1)
	nfree := 0
	if m.freelist != noFreelist {
		if nfree, err = c.checkFreelist(m.freelist); err != nil {
			return Info{}, err
		}
	}
	if m.root < 2 || m.root >= m.pgid {
		return Info{}, corrupt(m.txid%2, "root bucket at page %d, outside 2..%d", m.root, m.pgid-1)
	}
	if err := c.walk(m.root); err != nil {
		return Info{}, err
	}
	for id := uint64(2); id < m.pgid; id++ {
		if !c.used.has(id) && !c.free.has(id) {
			return Info{}, corrupt(id, "neither in use nor free")
		}
	}
	return Info{PageSize: c.pageSize, TxID: m.txid, HighWater: m.pgid, FreePages: nfree, FileSize: c.size}, nil
}

// readMeta reads and validates meta page id at off.
func (c *checker) readMeta(id uint64, off int64) (meta, error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := c.r.ReadAt(buf, off); err != nil {
		return meta{}, fmt.Errorf("read meta page %d: %w", id, err)
	}
	hdr, b := buf[:pageHeaderSize], buf[pageHeaderSize:]
	if order.Uint32(b[0:]) != magic {
		return meta{}, &CorruptError{Page: id, Problem: "meta: no magic number", err: errNoMagic}
	}
	if v := order.Uint32(b[4:]); v != formatVersion {
		return meta{}, corrupt(id, "meta: format version %d, want %d", v, formatVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:metaSumSize])
	if sum := order.Uint64(b[metaSumSize:]); sum != h.Sum64() {
		return meta{}, corrupt(id, "meta: checksum %#x, computed %#x", sum, h.Sum64())
	}
	m := meta{
		pageSize: order.Uint32(b[8:]),
		root:     order.Uint64(b[16:]),
		freelist: order.Uint64(b[32:]),
		pgid:     order.Uint64(b[40:]),
		txid:     order.Uint64(b[48:]),
	}
	if ps := m.pageSize; ps < 1024 || ps > 65536 || ps&(ps-1) != 0 {
		return meta{}, corrupt(id, "meta: page size %d, want a power of two in 1024..65536", ps)
	}
	if pid, fl := order.Uint64(hdr[0:]), order.Uint16(hdr[8:]); pid != id || fl != flagMeta || m.txid%2 != id {
		return meta{}, corrupt(id, "meta: header says page %d, flags %#x, transaction %d", pid, fl, m.txid)
	}
	return m, nil
}

// page reads page id and the pages it overflows onto. It checks the range,
// the header's id, and marks the pages used (each only once, none free).
func (c *checker) page(id uint64) (flags uint16, count int, buf []byte, err error) {
	if id < 2 || id >= c.meta.pgid {
		return 0, 0, nil, corrupt(id, "referenced, but outside 2..%d", c.meta.pgid-1)
	}
	ps := int64(c.pageSize)
	hdr := make([]byte, pageHeaderSize)
	if _, err := c.r.ReadAt(hdr, int64(id)*ps); err != nil {
		return 0, 0, nil, fmt.Errorf("read page %d: %w", id, err)
	}
	if pid := order.Uint64(hdr[0:]); pid != id {
		return 0, 0, nil, corrupt(id, "header says page %d", pid)
	}
	flags, count = order.Uint16(hdr[8:]), int(order.Uint16(hdr[10:]))
	overflow := uint64(order.Uint32(hdr[12:]))
	if overflow >= c.meta.pgid-id {
		return 0, 0, nil, corrupt(id, "overflows onto %d more pages, past the high-water mark %d", overflow, c.meta.pgid)
	}
	for p := id; p <= id+overflow; p++ {
		switch {
		case c.used.has(p):
			return 0, 0, nil, corrupt(p, "referenced twice")
		case c.free.has(p):
			return 0, 0, nil, corrupt(p, "in use and on the freelist")
		}
		c.used.set(p)
	}
	buf = make([]byte, (overflow+1)*uint64(ps))
	if _, err := c.r.ReadAt(buf, int64(id)*ps); err != nil {
		return 0, 0, nil, fmt.Errorf("read page %d: %w", id, err)
	}
	return flags, count, buf, nil
}

func (c *checker) checkFreelist(id uint64) (int, error) {
	flags, count, buf, err := c.page(id)
	if err != nil {
		return 0, err
	}
	if flags != flagFreelist {
		return 0, corrupt(id, "freelist page has flags %#x", flags)
	}
	ids := buf[pageHeaderSize:]
	if count == 0xFFFF { // the real count is the first element
		if len(ids) < 8 {
			return 0, corrupt(id, "freelist too short")
		}
		n := order.Uint64(ids)
		if n > uint64(len(ids)/8-1) {
			return 0, corrupt(id, "freelist of %d ids does not fit its %d bytes", n, len(ids))
		}
		count, ids = int(n), ids[8:]
	}
	if count*8 > len(ids) {
		return 0, corrupt(id, "freelist of %d ids does not fit its %d bytes", count, len(ids))
	}
	var prev uint64
	for i := range count {
		p := order.Uint64(ids[i*8:])
		switch {
		case p < 2 || p >= c.meta.pgid:
			return 0, corrupt(id, "freelist names page %d, outside 2..%d", p, c.meta.pgid-1)
		case i > 0 && p <= prev:
			return 0, corrupt(id, "freelist not sorted: %d after %d", p, prev)
		case c.used.has(p):
			return 0, corrupt(p, "in use and on the freelist")
		}
		c.free.set(p)
		prev = p
	}
	return count, nil
}

// walk checks the bucket whose root is page id.
func (c *checker) walk(id uint64) error {
	_, err := c.walkPage(id, 0, nil)
	return err
}

// walkPage checks the subtree at page id, depth levels below its bucket's
// root. last is the greatest key seen so far in the bucket (nil: none yet);
// it returns the greatest key after the subtree.
func (c *checker) walkPage(id uint64, depth int, last []byte) ([]byte, error) {
	if depth > maxDepth {
		return nil, corrupt(id, "tree deeper than %d levels", maxDepth)
	}
	flags, count, buf, err := c.page(id)
	if err != nil {
		return nil, err
	}
	switch flags {
	case flagBranch:
		if count == 0 {
			return nil, corrupt(id, "branch page without elements")
		}
		if err := c.elementsFit(id, count, buf); err != nil {
			return nil, err
		}
		for i := range count {
			e := pageHeaderSize + i*elementSize
			pos, ksize := int(order.Uint32(buf[e:])), int(order.Uint32(buf[e+4:]))
			child := order.Uint64(buf[e+8:])
			if _, err := slice(id, buf, e, pos, ksize); err != nil {
				return nil, err
			}
			if last, err = c.walkPage(child, depth+1, last); err != nil {
				return nil, err
			}
		}
		return last, nil
	case flagLeaf:
		return c.leaf(id, count, buf, last)
	default:
		return nil, corrupt(id, "page type %#x where a branch or leaf page belongs", flags)
	}
}

func (c *checker) elementsFit(id uint64, count int, buf []byte) error {
	if pageHeaderSize+count*elementSize > len(buf) {
		return corrupt(id, "%d elements do not fit a page of %d bytes", count, len(buf))
	}
	return nil
}

// slice returns buf[e+pos : e+pos+n], or a CorruptError if it is outside buf.
func slice(id uint64, buf []byte, e, pos, n int) ([]byte, error) {
	start := e + pos
	if pos < 0 || n < 0 || start < e || start > len(buf) || n > len(buf)-start {
		return nil, corrupt(id, "element at offset %d points at bytes %d..%d of %d", e, start, start+n, len(buf))
	}
	return buf[start : start+n], nil
}

// leaf checks the elements of a leaf page (buf; an inline bucket's page
// too), visiting values and descending into sub-buckets.
func (c *checker) leaf(id uint64, count int, buf []byte, last []byte) ([]byte, error) {
	if err := c.elementsFit(id, count, buf); err != nil {
		return nil, err
	}
	for i := range count {
		e := pageHeaderSize + i*elementSize
		fl := order.Uint32(buf[e:])
		pos, ksize, vsize := int(order.Uint32(buf[e+4:])), int(order.Uint32(buf[e+8:])), int(order.Uint32(buf[e+12:]))
		kv, err := slice(id, buf, e, pos, ksize+vsize)
		if err != nil {
			return nil, err
		}
		k, v := kv[:ksize], kv[ksize:]
		if last != nil && bytes.Compare(k, last) <= 0 {
			return nil, corrupt(id, "key %q after key %q: out of order", trim(k), trim(last))
		}
		last = k
		switch fl {
		case 0:
			if c.visit != nil {
				if err := c.visit(c.path, k, v); err != nil {
					return nil, err
				}
			}
		case leafBucket:
			if err := c.bucket(id, k, v); err != nil {
				return nil, err
			}
		default:
			return nil, corrupt(id, "element %d has flags %#x", i, fl)
		}
	}
	return last, nil
}

// bucket checks the sub-bucket named name whose header is v, held on page id.
func (c *checker) bucket(id uint64, name, v []byte) error {
	if len(v) < bucketHeader {
		return corrupt(id, "bucket %q has a %d-byte header", trim(name), len(v))
	}
	if len(c.path) >= maxDepth {
		return corrupt(id, "buckets nested more than %d deep", maxDepth)
	}
	c.path = append(c.path, name)
	defer func() { c.path = c.path[:len(c.path)-1] }()
	if root := order.Uint64(v); root != 0 {
		return c.walk(root)
	}
	// An inline bucket: a leaf page (never with sub-buckets) inside the value.
	p := v[bucketHeader:]
	if len(p) < pageHeaderSize {
		return corrupt(id, "inline bucket %q of %d bytes", trim(name), len(p))
	}
	if fl := order.Uint16(p[8:]); fl != flagLeaf {
		return corrupt(id, "inline bucket %q has page flags %#x", trim(name), fl)
	}
	count := int(order.Uint16(p[10:]))
	if err := c.elementsFit(id, count, p); err != nil {
		return err
	}
	for i := range count {
		if order.Uint32(p[pageHeaderSize+i*elementSize:]) != 0 {
			return corrupt(id, "inline bucket %q holds a bucket", trim(name))
		}
	}
	_, err := c.leaf(id, count, p, nil)
	return err
}

func trim(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

type bitmap []uint64

func newBitmap(n uint64) bitmap    { return make(bitmap, (n+63)/64) }
func (b bitmap) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitmap) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
