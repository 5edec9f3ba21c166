package gamedelta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// shipLayout is the layout of DELTA.md's worked example.
var shipLayout = Layout{Kinds: []Kind{{Name: "ship", Fields: []Field{
	{Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
	{Name: "y", Bits: 32, Signed: true, Velocity: "vy"},
	{Name: "vx", Bits: 16, Signed: true},
	{Name: "vy", Bits: 16, Signed: true},
	{Name: "angle", Bits: 16, Wrap: true},
	{Name: "hp", Bits: 8},
	{Name: "secret", Bits: 16, OwnerOnly: true},
}}}}

// ship adds a ship with the given values (x, y, vx, vy, angle, hp, secret).
func ship(w *World, id, owner uint32, v ...int64) {
	i := w.Add(id, 0, owner)
	for f, x := range v {
		w.SetInt(i, f, x)
	}
}

func TestCompile(t *testing.T) {
	ok := Field{Name: "a", Bits: 8}
	for _, tc := range []struct {
		name string
		l    Layout
		err  string // "" valid
	}{
		{"ship", shipLayout, ""},
		{"no kinds", Layout{}, "0 kinds"},
		{"empty kind", Layout{Kinds: []Kind{{Name: "k"}}}, ""},
		{"too many fields", Layout{Kinds: []Kind{{Fields: make([]Field, 64)}}}, "64 fields"},
		{"63 fields", Layout{Kinds: []Kind{{Fields: make([]Field, 63)}}}, ""},
		{"bits", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 65}}}}}, "bits 65"},
		{"negative bits", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: -1}}}}}, "bits -1"},
		{"unknown type", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Type: 9}}}}}, "type"},
		{"no velocity", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "v"}}}}}, "no such field"},
		{"self velocity", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "a"}}}}}, "the field itself"},
		{"bytes velocity", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "b"}, {Name: "b", Type: FieldBytes}}}}}, "not an int"},
		{"hidden velocity", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "b"}, {Name: "b", OwnerOnly: true}}}}}, "owner-only"},
		{"hidden both", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "b", OwnerOnly: true}, {Name: "b", OwnerOnly: true}}}}}, ""},
		{"visible velocity of hidden", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Velocity: "b", OwnerOnly: true}, {Name: "b"}}}}}, ""},
		{"bytes wrap", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Type: FieldBytes, Wrap: true}}}}}, "bytes field"},
		{"bytes len", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Type: FieldBytes, MaxLen: MaxBytesLen + 1}}}}}, "max length"},
		{"int len", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", MaxLen: 3}}}}}, "int field"},
		{"range", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 8, Min: 1, Max: 100}}}}}, ""},
		{"range past bits", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 8, Max: 256}}}}}, "range"},
		{"range reversed", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Min: 5, Max: 4}}}}}, "range"},
		{"range wrap", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 8, Wrap: true, Max: 4}}}}}, "range"},
		{"range u64", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 64, Min: -1, Max: 4}}}}}, "range"},
		{"range bytes", Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Type: FieldBytes, Max: 4}}}}}, "bytes field"},
		{"two kinds", Layout{Kinds: []Kind{{Fields: []Field{ok}}, {Fields: []Field{ok, ok}}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.l)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v; want one containing %q", err, tc.err)
			}
		})
	}
}

// TestWorkedExample checks the bytes of DELTA.md's worked example.
func TestWorkedExample(t *testing.T) {
	c := mustCompile(t, shipLayout)
	base, cur := NewWorld(c), NewWorld(c)
	ship(base, 3, 7, 100, -50, 4, 0, 65530, 100, 9)
	ship(base, 5, 2, 0, 0, 0, 0, 0, 50, 0)
	ship(cur, 3, 7, 108, -50, 4, 0, 4, 100, 9)
	ship(cur, 9, 0, -1, 2, 0, 0, 0, 0, 0)
	var d Delta
	got := d.Append(nil, base, nil, cur, nil, 7, 2)
	want := "07 01 05 09 00 00 01 04 00 00 00 00 01 10 14"
	if hex.EncodeToString(got) != strings.ReplaceAll(want, " ", "") {
		t.Fatalf("bytes % x; want %s", got, want)
	}
	dst := NewWorld(c)
	if err := NewDecoder(c, 7).Apply(dst, base, 2, got); err != nil {
		t.Fatal(err)
	}
	if !Equal(dst, cur) {
		t.Fatalf("decoded %v; want %v", dst, cur)
	}
}

// TestPredictionIsFree: entities moving at constant velocity, and a
// wrapping angle that crosses zero, cost nothing at any dt.
func TestPredictionIsFree(t *testing.T) {
	c := mustCompile(t, shipLayout)
	var d Delta
	for _, dt := range []uint32{1, 2, 7, 1000} {
		base, cur := NewWorld(c), NewWorld(c)
		ship(base, 1, 0, 1000, -1000, 40, -13, 65000, 9)
		ship(base, 2, 0, -5, 5, -32768, 32767, 3, 1)
		ship(cur, 1, 0, 1000+40*int64(dt), -1000-13*int64(dt), 40, -13, 65000, 9)
		ship(cur, 2, 0, -5-32768*int64(dt), 5+32767*int64(dt), -32768, 32767, 3, 1)
		if got := d.Append(nil, base, nil, cur, nil, 0, dt); len(got) != 0 {
			t.Errorf("dt=%d: % x; want nothing", dt, got)
		}
	}
	// A wrapping angle crossing 0 costs one byte of value either way.
	c2 := mustCompile(t, Layout{Kinds: []Kind{{Fields: []Field{{Name: "a", Bits: 16, Wrap: true}}}}})
	for _, tc := range []struct{ from, to int64 }{{65535, 1}, {1, 65535}, {0, 32767}} {
		base, cur := NewWorld(c2), NewWorld(c2)
		base.SetInt(base.Add(1, 0, 0), 0, tc.from)
		cur.SetInt(cur.Add(1, 0, 0), 0, tc.to)
		got := d.Append(nil, base, nil, cur, nil, 0, 1)
		dst := NewWorld(c2)
		if err := NewDecoder(c2, 0).Apply(dst, base, 1, got); err != nil || !Equal(dst, cur) {
			t.Fatalf("%d→%d: %v, %v", tc.from, tc.to, err, dst)
		}
		if tc.to != 32767 && len(got) != 3 { // header and first index, mask, value
			t.Errorf("%d→%d: % x: want 3 bytes", tc.from, tc.to, got)
		}
	}
}

// roundTrip drives an Encoder and a Receiver for one client through a
// sequence of worlds and views, each snapshot acknowledged at once.
type roundTrip struct {
	t   *testing.T
	c   *Codec
	enc *Encoder
	cl  *Client
	rx  *Receiver
	tk  uint32
}

func newRoundTrip(t *testing.T, c *Codec, player uint32) *roundTrip {
	enc, err := NewEncoder(c, DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	rx, err := NewReceiver(c, DefaultReceiverConfig(player))
	if err != nil {
		t.Fatal(err)
	}
	return &roundTrip{t: t, c: c, enc: enc, cl: enc.NewClient(player), rx: rx}
}

// step records w, encodes through v, applies, acks; it returns the bytes.
func (r *roundTrip) step(w *World, v *View, want *World) []byte {
	r.t.Helper()
	r.tk++
	if err := r.enc.Record(r.tk, w); err != nil {
		r.t.Fatal(err)
	}
	snap, err := r.enc.Encode(r.cl, v)
	if err != nil {
		r.t.Fatal(err)
	}
	data, base := snap.Data, snap.Baseline
	got, err := r.rx.Apply(r.tk, base, data)
	if err != nil {
		r.t.Fatalf("tick %d: %v", r.tk, err)
	}
	if !Equal(got, want) {
		r.t.Fatalf("tick %d: client holds %v; want %v", r.tk, got, want)
	}
	r.cl.Ack(r.tk)
	return slicesClone(data)
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestOwnerOnly: the owner sees its secret, others see 0; the secret
// follows the entity to its new owner.
func TestOwnerOnly(t *testing.T) {
	c := mustCompile(t, shipLayout)
	w := NewWorld(c)
	ship(w, 1, 7, 0, 0, 0, 0, 0, 100, 1234)
	mine, theirs := NewWorld(c), NewWorld(c)
	ship(mine, 1, 7, 0, 0, 0, 0, 0, 100, 1234)
	ship(theirs, 1, 7, 0, 0, 0, 0, 0, 100, 0)
	owner, other := newRoundTrip(t, c, 7), newRoundTrip(t, c, 8)
	owner.step(w, nil, mine)
	other.step(w, nil, theirs)

	// The secret changes: a record for the owner, nothing for the other.
	w.SetInt(0, 6, 1235)
	mine.SetInt(0, 6, 1235)
	if got := owner.step(w, nil, mine); !bytes.Equal(got, []byte{0x02, 0x40, 0x02}) {
		t.Errorf("owner: % x; want 02 40 02: entity 0 changed, bit 6, +1", got)
	}
	if got := other.step(w, nil, theirs); len(got) != 0 {
		t.Errorf("other: % x; want nothing", got)
	}

	// The ship changes hands: 8 now sees the secret, 7 no longer does.
	w.SetOwner(0, 8)
	mine.SetOwner(0, 8)
	mine.SetInt(0, 6, 0)
	theirs.SetOwner(0, 8)
	theirs.SetInt(0, 6, 1235)
	owner.step(w, nil, mine)
	other.step(w, nil, theirs)
}

// TestViewLeaveAndReturn: an entity that leaves the view is removed, and
// spawned in full when it comes back.
func TestViewLeaveAndReturn(t *testing.T) {
	c := mustCompile(t, shipLayout)
	w := NewWorld(c)
	ship(w, 1, 0, 10, 10, 1, 1, 0, 9)
	ship(w, 2, 0, 20, 20, 2, 2, 0, 9)
	rt := newRoundTrip(t, c, 0)
	rt.step(w, nil, w)

	only1 := NewWorld(c)
	ship(only1, 1, 0, 10, 10, 1, 1, 0, 9)
	if got := rt.step(w, &View{IDs: []uint32{1, 5}}, only1); !bytes.Equal(got, []byte{0x05, 0x02, 0x01, 0x03, 0x01, 0x01}) {
		// removed 2; entity 1 is predicted at 10+1, but it did not move: x, y residuals -1.
		t.Errorf("leave: % x", got)
	}
	back := NewWorld(c)
	back.CopyFrom(w)
	got := rt.step(w, &View{All: true}, back)
	if got[0] != 3 || got[1] != 1 {
		t.Errorf("return: % x: want a spawned entity", got)
	}
}

// TestKindChange: an id reused for an entity of another kind is removed
// and spawned.
func TestKindChange(t *testing.T) {
	l := Layout{Kinds: []Kind{
		{Name: "a", Fields: []Field{{Name: "n", Bits: 8}}},
		{Name: "b", Fields: []Field{{Name: "s", Type: FieldBytes}}},
	}}
	c := mustCompile(t, l)
	w := NewWorld(c)
	w.SetInt(w.Add(4, 0, 0), 0, 200)
	rt := newRoundTrip(t, c, 0)
	rt.step(w, nil, w)
	w.Reset()
	w.SetBytes(w.Add(4, 1, 3), 0, []byte("hi"))
	got := rt.step(w, nil, w)
	if want := []byte{0x07, 0x01, 0x04, 0x04, 0x01, 0x03, 0x02, 'h', 'i'}; !bytes.Equal(got, want) {
		t.Errorf("% x; want % x", got, want)
	}
}

// TestSharing: one encoding per distinct (baseline, views, player) per
// tick, shared by the clients that need it.
func TestSharing(t *testing.T) {
	noSecret := Layout{Kinds: []Kind{{Fields: shipLayout.Kinds[0].Fields[:6]}}}
	for _, tc := range []struct {
		name        string
		l           Layout
		views       func(i int) *View
		wantEncodes uint64 // per tick, in the steady state
	}{
		{"all see all", noSecret, func(int) *View { return nil }, 1},
		{"owner-only fields", shipLayout, func(int) *View { return nil }, 8},
		{"two views", noSecret, func(i int) *View { return &View{IDs: []uint32{1, uint32(2 + i%2)}} }, 2},
		{"keyed views", noSecret, func(i int) *View { return &View{Key: uint64(1 + i%2), IDs: []uint32{1, uint32(2 + i%2)}} }, 2},
		{"same ids, other keys", noSecret, func(i int) *View { return &View{Key: uint64(1 + i), IDs: []uint32{1}} }, 8},
		{"colliding key", noSecret, func(i int) *View { return &View{Key: 5, IDs: []uint32{1, uint32(2 + i%2)}} }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, tc.l)
			enc, err := NewEncoder(c, DefaultEncoderConfig())
			if err != nil {
				t.Fatal(err)
			}
			var cls []*Client
			for i := range 8 {
				cls = append(cls, enc.NewClient(uint32(i+1)))
			}
			w := NewWorld(c)
			for id := range uint32(4) {
				ship(w, id+1, id+1, int64(id), 0, 1, 0, 0, 9)
			}
			var before EncoderStats
			for tick := uint32(1); tick <= 5; tick++ {
				for i := range w.Len() {
					w.SetInt(i, 0, w.Int(i, 0)+1)
				}
				if err := enc.Record(tick, w); err != nil {
					t.Fatal(err)
				}
				before = enc.Stats()
				for i, cl := range cls {
					if _, err := enc.Encode(cl, tc.views(i)); err != nil {
						t.Fatal(err)
					}
					cl.Ack(tick)
				}
			}
			after := enc.Stats()
			if got := after.Encodes - before.Encodes; got != tc.wantEncodes {
				t.Errorf("%d encodes in the last tick; want %d", got, tc.wantEncodes)
			}
			if got := after.Shared - before.Shared; got != 8-tc.wantEncodes {
				t.Errorf("%d shared in the last tick; want %d", got, 8-tc.wantEncodes)
			}
		})
	}
}

// TestBaselineFallback: a client whose ack left the ring, that acked a
// tick it was never sent, or that was reset, gets a full snapshot.
func TestBaselineFallback(t *testing.T) {
	c := mustCompile(t, shipLayout)
	cfg := DefaultEncoderConfig()
	cfg.History = 4
	enc, err := NewEncoder(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorld(c)
	ship(w, 1, 0, 0, 0, 0, 0, 0, 1)
	cl, late := enc.NewClient(1), enc.NewClient(2)
	encode := func(cl *Client) uint32 {
		t.Helper()
		snap, err := enc.Encode(cl, nil)
		if err != nil {
			t.Fatal(err)
		}
		return snap.Baseline
	}
	for tick := uint32(1); tick <= 10; tick++ {
		if err := enc.Record(tick, w); err != nil {
			t.Fatal(err)
		}
		switch base := encode(cl); {
		case tick == 1 && base != 0, tick > 1 && base != tick-1:
			t.Fatalf("tick %d: baseline %d", tick, base)
		}
		cl.Ack(tick)
		if tick >= 5 {
			encode(late)
		}
	}
	late.Ack(6) // 11-6 = 5 ticks: out of a ring of 4
	if err := enc.Record(11, w); err != nil {
		t.Fatal(err)
	}
	if base := encode(late); base != 0 {
		t.Errorf("ack out of the ring: baseline %d; want full", base)
	}
	late.Ack(50) // never sent
	if err := enc.Record(12, w); err != nil {
		t.Fatal(err)
	}
	if base := encode(late); base != 0 {
		t.Errorf("ack of a future tick: baseline %d; want full", base)
	}
	cl.Reset()
	cl.Ack(11)
	if base := encode(cl); base != 0 {
		t.Errorf("after Reset: baseline %d; want full (the reset client was not sent 11 since)", base)
	}
}

func TestRecordRefuses(t *testing.T) {
	c := mustCompile(t, shipLayout)
	enc, err := NewEncoder(c, DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorld(c)
	ship(w, 2, 0, 0, 0, 0, 0, 0, 1)
	ship(w, 1, 0, 0, 0, 0, 0, 0, 1) // unsorted: sorted in the copy
	if err := enc.Record(1, w); err != nil {
		t.Fatalf("unsorted world: %v", err)
	}
	if err := enc.Record(1, w); !errors.Is(err, ErrBadWorld) {
		t.Errorf("same tick again: %v", err)
	}
	dup := NewWorld(c)
	ship(dup, 1, 0)
	ship(dup, 1, 0)
	big := NewWorld(c)
	ship(big, 1, 0, 0, 0, 0, 0, 0, 256) // hp is 8 bits
	long := NewWorld(mustCompile(t, Layout{Kinds: []Kind{{Fields: []Field{{Type: FieldBytes, MaxLen: 2}}}}}))
	long.SetBytes(long.Add(1, 0, 0), 0, []byte("abc"))
	for name, bad := range map[string]*World{"duplicate": dup, "range": big} {
		if err := enc.Record(2, bad); !errors.Is(err, ErrBadWorld) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := enc.Record(2, long); !errors.Is(err, ErrBadWorld) {
		t.Errorf("other codec: %v", err)
	}
	if err := long.Check(); err == nil {
		t.Errorf("long bytes: Check passed")
	}
	if _, err := enc.Encode(enc.NewClient(1), &View{IDs: []uint32{3, 2}}); !errors.Is(err, ErrBadWorld) {
		t.Errorf("unsorted view: %v", err)
	}
}

func TestReceiver(t *testing.T) {
	c := mustCompile(t, shipLayout)
	rx, err := NewReceiver(c, DefaultReceiverConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	full := []byte{0x03, 0x01, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0} // ship 1 of player 1, all zero
	if _, err := rx.Apply(5, 0, full); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		tick, base uint32
		data       []byte
		want       error
	}{
		{"stale", 4, 0, full, ErrStale},
		{"duplicate", 5, 0, full, ErrStale},
		{"unknown baseline", 7, 6, nil, ErrNoBaseline},
		{"baseline after tick", 7, 8, nil, ErrBadDelta},
		{"tick 0", 0, 0, nil, ErrBadDelta},
		{"bad bytes", 7, 5, []byte{0x02}, ErrBadDelta},
	} {
		if _, err := rx.Apply(tc.tick, tc.base, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
	if rx.Newest() != 5 || rx.World(5) == nil || rx.World(4) != nil {
		t.Fatalf("a refused snapshot changed the receiver: newest %d", rx.Newest())
	}
	if _, err := rx.Apply(6, 5, nil); err != nil {
		t.Fatal(err)
	}
	rx.Reset()
	if rx.Newest() != 0 || rx.World(6) != nil {
		t.Errorf("Reset kept worlds")
	}
}

// TestApplyRefuses: hand-made malformed snapshots against the worked
// example's baseline, each refused with ErrBadDelta.
func TestApplyRefuses(t *testing.T) {
	c := mustCompile(t, shipLayout)
	base := NewWorld(c)
	ship(base, 3, 7, 100, -50, 4, 0, 65530, 100, 9)
	ship(base, 5, 2, 0, 0, 0, 0, 0, 50, 0)
	ship(base, 6, 0, 2147483640, 0, 4, 0, 0, 0, 0) // x + 4·dt leaves int32 at dt ≥ 2
	for _, tc := range []struct{ name, hex string }{
		{"bad varint", "80"},
		{"overlong varint", "8080808080808080808001"},
		{"too many removed", "11"},
		{"removed not in base", "05 04"},
		{"removed past 2^32", "09 05 ffffffff0f"},
		{"spawned count too big", "03 05 01"},
		{"spawned in base", "03 01 03 00 00 00 00 00 00 00 00"},
		{"unknown kind", "03 01 01 01 00 00 00 00 00 00 00"},
		{"owner past 2^32", "03 01 01 00 8080808010 00 00 00 00 00 00"},
		{"spawned value out of range", "03 01 01 00 00 00 00 00 00 00 8004"},
		{"spawned truncated", "03 01 01 00 00 00 00"},
		{"first index past n", "08"},
		{"gap past n", "02 10 14 05"},
		{"record missing", "02"},
		{"mask 0", "02 00"},
		{"mask bit above owner", "02 8002"},
		{"owner-only field of an entity not owned", "04 40 02"},
		{"owner-only after losing it", "02 c001 02 02"},
		{"value does not fit", "02 20 8004"},
		{"predicted value leaves int32", "06 01 00"},
		{"trailing bytes", "02 10 14 ff"},
		{"bitmap short", "00"},
		{"bitmap padding", "00 09 10 14"},
		{"bitmap trailing", "00 01 10 14 00"},
		{"changes after spawns: past n", "03 01 01 00 00 00 00 00 00 00 00 04"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := hex.DecodeString(strings.ReplaceAll(tc.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			dt := uint32(1)
			if tc.name == "predicted value leaves int32" {
				dt = 2
			}
			dst := NewWorld(c)
			if err := NewDecoder(c, 7).Apply(dst, base, dt, data); !errors.Is(err, ErrBadDelta) {
				t.Fatalf("% x: %v; want ErrBadDelta", data, err)
			}
		})
	}
	// The same shapes, well formed, are accepted (the table tests what it
	// means to).
	for _, h := range []string{"", "01", "02 10 14", "00 01 10 14", "02 c001 07 20", "03 01 01 00 00 00 00 00 00 00 00", "03 01 01 00 00 00 00 00 00 00 00 01 10 14"} {
		data, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err := NewDecoder(c, 7).Apply(NewWorld(c), base, 1, data); err != nil {
			t.Errorf("% x: %v", data, err)
		}
	}
}

// raceBuild is set under -race (race_test.go).
var raceBuild bool

// TestAllocs: once warm, recording a world and encoding it for 8 clients
// with 8 different views (or 8 players with owner-only fields) allocates
// nothing, nor does applying a snapshot.
func TestAllocs(t *testing.T) {
	want := 0.0
	if raceBuild {
		want = 1000 // counted, but the instrumentation's own allocations are not ours
	}
	sc := newArenaScenario(t, 8, aoiViews)
	rx, err := NewReceiver(sc.c, DefaultReceiverConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	tick := func() {
		sc.tick(t)
		if _, err := rx.Apply(sc.n, sc.bases[0], sc.last[0]); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * DefaultEncoderConfig().History { // every slot of the rings has grown
		tick()
	}
	if n := testing.AllocsPerRun(50, tick); n > want {
		t.Errorf("arena: %.1f allocs per tick; want %.0f", n, want)
	}
	cards := newCardsScenario(t)
	for range 2 * DefaultEncoderConfig().History {
		cards.tick(t)
	}
	if n := testing.AllocsPerRun(50, func() { cards.tick(t) }); n > want {
		t.Errorf("cards: %.1f allocs per tick; want %.0f", n, want)
	}
}
