package web

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/ticksync/ticksync/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/delta_vectors.json")

const vectorsFile = "testdata/delta_vectors.json"

// vectorFile is testdata/delta_vectors.json, read by test/delta.test.ts.
// Entities are arrays [id, owner, x, y, vx, vy, angle, kind, hp].
type vectorFile struct {
	Comment string        `json:"comment"`
	Vectors []deltaCase   `json:"vectors"`
	Corrupt []corruptCase `json:"corrupt"`
}

// deltaCase is a snapshot that schema.Diff encoded from Base to Want.
type deltaCase struct {
	Name    string     `json:"name"`
	Base    [][9]int64 `json:"base"`
	Message string     `json:"message"` // hex ServerMessage{Snapshot} from schema.Encoder
	Want    [][9]int64 `json:"want"`
}

// corruptCase is a damaged variant of Vectors[From] (same base) and
// schema.Apply's verdict on it: Want when it applies, Error when not.
type corruptCase struct {
	Name    string     `json:"name"`
	From    int        `json:"from"`
	Message string     `json:"message"`
	Want    [][9]int64 `json:"want,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// rng is splitmix64: a generator whose sequence no Go release changes, so
// the vectors regenerate byte for byte.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func toJSON(w []schema.Entity) [][9]int64 {
	out := make([][9]int64, len(w))
	for i, e := range w {
		out[i] = [9]int64{int64(e.ID), int64(e.Owner), int64(e.X), int64(e.Y), int64(e.VX), int64(e.VY), int64(e.Angle), int64(e.Kind), int64(e.HP)}
	}
	return out
}

// step moves an arena-like world one tick: everyone moves by its velocity,
// bounces off the walls; a few turn, lose hp, or change hands.
func step(r *rng, w []schema.Entity) []schema.Entity {
	out := slices.Clone(w)
	for i := range out {
		e := &out[i]
		e.X += int32(e.VX)
		e.Y += int32(e.VY)
		if e.X < 0 || e.X > 16000 {
			e.VX = -e.VX
			e.X = min(max(e.X, 0), 16000)
		}
		if e.Y < 0 || e.Y > 16000 {
			e.VY = -e.VY
			e.Y = min(max(e.Y, 0), 16000)
		}
		switch r.intn(40) {
		case 0:
			a := float64(r.intn(1024)) * 2 * math.Pi / 1024
			e.VX, e.VY = int16(math.Round(32*math.Cos(a))), int16(math.Round(32*math.Sin(a)))
			e.Angle = uint16(r.intn(65536))
		case 1:
			e.HP--
		case 2:
			e.Kind = uint8(1 + r.intn(3))
		}
	}
	return out
}

func randomWorld(r *rng, n int, firstID uint32) []schema.Entity {
	w := make([]schema.Entity, n)
	for i := range w {
		w[i] = schema.Entity{
			ID: firstID + uint32(i)*uint32(1+r.intn(3)), X: int32(r.intn(16001)), Y: int32(r.intn(16001)),
			VX: int16(r.intn(65) - 32), VY: int16(r.intn(65) - 32), Angle: uint16(r.intn(65536)), Kind: 2, HP: 100,
		}
		if i > 0 && w[i].ID <= w[i-1].ID {
			w[i].ID = w[i-1].ID + 1
		}
		if i%8 == 0 {
			w[i].Owner, w[i].Kind = uint32(i/8+1), 1
		}
	}
	return w
}

// buildVectors makes the vectors from the real codec. It fails the test if
// schema.Apply does not invert schema.Diff.
func buildVectors(t *testing.T) *vectorFile {
	t.Helper()
	r := rng(20261121)
	f := &vectorFile{Comment: "written by go test ./game/arena/web -run TestDeltaVectors -update; read by test/delta.test.ts"}
	enc := schema.NewEncoder(4096)
	var d schema.Delta
	add := func(name string, base, cur []schema.Entity, baseTick, dt uint32) {
		t.Helper()
		tick := baseTick + dt
		if baseTick == 0 {
			base, tick = nil, dt
		}
		schema.Diff(&d, base, cur, dt)
		got, err := schema.Apply(nil, base, dt, d.Spawned, d.Changes, d.Removed)
		if err != nil || !slices.Equal(got, cur) {
			t.Fatalf("%s: schema.Apply does not invert schema.Diff: %v", name, err)
		}
		msg, _ := enc.Snapshot(&schema.Snapshot{
			Tick: tick, BaselineTick: baseTick, LastInputSeq: 42,
			Spawned: d.Spawned, Changes: d.Changes, Removed: d.Removed, ServerTimeMS: 1_700_000_000_000,
		})
		f.Vectors = append(f.Vectors, deltaCase{Name: name, Base: toJSON(base), Message: hex.EncodeToString(msg), Want: toJSON(cur)})
	}

	// A full snapshot of a fresh arena-like room.
	add("full snapshot, 64 entities", nil, randomWorld(&r, 64, 1), 0, 7)
	room := randomWorld(&r, 24, 1)

	// Straight lines cost nothing, whatever dt.
	straight := slices.Clone(room[:16])
	for i := range straight {
		straight[i].X, straight[i].Y = 8000, 8000
	}
	later := slices.Clone(straight)
	for i := range later {
		later[i].X += int32(later[i].VX) * 300
		later[i].Y += int32(later[i].VY) * 300
	}
	add("prediction only, dt 300", straight, later, 100, 300)

	// An arena-like room over time: deltas against baselines 1, 2, 3, 10 and
	// 40 ticks old (gap form, sometimes bitmap).
	hist := [][]schema.Entity{room}
	for range 100 {
		hist = append(hist, step(&r, hist[len(hist)-1]))
	}
	for _, at := range []int{45, 70, 100} {
		for _, dt := range []int{1, 2, 3, 10, 40} {
			add(fmt.Sprintf("arena tick %d against %d", 1000+at, 1000+at-dt), hist[at-dt], hist[at], uint32(1000+at-dt), uint32(dt))
		}
	}

	// A burst: every entity changes (bitmap form).
	burst := slices.Clone(room)
	for i := range burst {
		burst[i].HP = uint8(r.intn(100) + 1)
	}
	add("burst, every hp changes", room, burst, 500, 1)

	// Removed and spawned together, with changes among the survivors.
	churn := step(&r, room)
	churn = slices.DeleteFunc(churn, func(e schema.Entity) bool { return e.ID%5 == 0 })
	for i := range 6 {
		churn = append(churn, schema.Entity{ID: 1000 + uint32(i)*7, Owner: uint32(i), X: int32(i * 999), Y: 16000, VX: -3, Kind: 2, HP: 100})
	}
	slices.SortFunc(churn, func(a, b schema.Entity) int { return int(a.ID) - int(b.ID) })
	churn[3].Angle += 40000
	churn[4].Owner = 77
	add("removed, spawned and changed", room, churn, 900, 2)

	// Every field, at the edges of its range.
	edge := []schema.Entity{
		{ID: 1, X: math.MaxInt32 - 10, Y: math.MinInt32 + 10, VX: 32767, VY: -32768, Angle: 65535, Kind: 255, HP: 255, Owner: math.MaxUint32},
		{ID: 2, X: -5, Y: 5, VX: -1, VY: 1, Angle: 0, Kind: 0, HP: 0},
		{ID: 3, X: 0, Y: 0},
	}
	edge2 := slices.Clone(edge)
	edge2[0].X, edge2[0].Y, edge2[0].VX, edge2[0].VY = math.MinInt32, math.MaxInt32, -32768, 32767
	edge2[0].Angle, edge2[0].Kind, edge2[0].HP, edge2[0].Owner = 1, 0, 0, 0
	edge2[1].Angle, edge2[1].Owner, edge2[1].X = 65535, math.MaxUint32, math.MaxInt32
	add("every field at its limits", edge, edge2, 70000, 1)

	// Corruptions of the deltas, judged by schema.Apply.
	for from, v := range f.Vectors {
		raw, _ := hex.DecodeString(v.Message)
		var m schema.ServerMessage
		if err := schema.DecodeServerMessage(raw, &m); err != nil {
			t.Fatal(err)
		}
		s := m.Snapshot
		if s.BaselineTick == 0 {
			continue
		}
		base := fromJSON(v.Base)
		for k := range 8 {
			c := s
			c.Changes = slices.Clone(s.Changes)
			c.Removed = slices.Clone(s.Removed)
			c.Spawned = slices.Clone(s.Spawned)
			var what string
			switch n := len(c.Changes); {
			case k == 0 && n > 0:
				what, c.Changes = "truncated", c.Changes[:r.intn(n)]
			case k == 1:
				what, c.Changes = "trailing byte", append(c.Changes, byte(r.intn(256)))
			case k == 2 && n > 0:
				i := r.intn(n + 1)
				what, c.Changes = "inserted byte", slices.Insert(c.Changes, i, byte(r.intn(256)))
			case k == 3 && len(base) > 0:
				what, c.Removed = "extra removed id", append(c.Removed, base[r.intn(len(base))].ID)
				slices.Sort(c.Removed)
			case k == 4 && len(c.Removed) > 0:
				what, c.Removed = "removed id dropped", slices.Delete(c.Removed, 0, 1)
			case k == 5 && len(base) > 0:
				what, c.Spawned = "spawned id from the baseline", append(c.Spawned, base[len(base)-1])
			case n > 0:
				i := r.intn(n)
				what = fmt.Sprintf("byte %d flipped", i)
				c.Changes[i] ^= byte(1 << r.intn(8))
			default:
				continue
			}
			dt := s.Tick - s.BaselineTick
			cc := corruptCase{Name: fmt.Sprintf("%s: %s", v.Name, what), From: from}
			got, err := schema.Apply(nil, base, dt, c.Spawned, c.Changes, c.Removed)
			if err != nil {
				if !errors.Is(err, schema.ErrBadDelta) {
					t.Fatalf("%s: Apply error %v does not wrap ErrBadDelta", cc.Name, err)
				}
				cc.Error = err.Error()
			} else {
				cc.Want = toJSON(got)
			}
			msg, _ := enc.Snapshot(&c)
			cc.Message = hex.EncodeToString(msg)
			f.Corrupt = append(f.Corrupt, cc)
		}
	}
	return f
}

// marshalVectors writes f as JSON with one case per line, to keep the file
// small and its diffs readable.
func marshalVectors(t *testing.T, f *vectorFile) []byte {
	t.Helper()
	var b bytes.Buffer
	line := func(v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
	}
	b.WriteString(`{"comment": `)
	line(f.Comment)
	b.WriteString(",\n\"vectors\": [\n")
	for i, v := range f.Vectors {
		if i > 0 {
			b.WriteString(",\n")
		}
		line(v)
	}
	b.WriteString("\n],\n\"corrupt\": [\n")
	for i, c := range f.Corrupt {
		if i > 0 {
			b.WriteString(",\n")
		}
		line(c)
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

func fromJSON(w [][9]int64) []schema.Entity {
	out := make([]schema.Entity, len(w))
	for i, a := range w {
		out[i] = schema.Entity{ID: uint32(a[0]), Owner: uint32(a[1]), X: int32(a[2]), Y: int32(a[3]),
			VX: int16(a[4]), VY: int16(a[5]), Angle: uint16(a[6]), Kind: uint8(a[7]), HP: uint8(a[8])}
	}
	return out
}

// TestDeltaVectors keeps testdata/delta_vectors.json equal to what the Go
// codec writes today (-update rewrites it); TestTypeScript then checks the
// TypeScript reader against it.
func TestDeltaVectors(t *testing.T) {
	f := buildVectors(t)
	b := marshalVectors(t, f)
	if *update {
		if err := os.WriteFile(vectorsFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run go test ./game/arena/web -run TestDeltaVectors -update)", err)
	}
	if !bytes.Equal(old, b) {
		t.Fatalf("%s is stale: the Go codec changed; rerun with -update and check the TypeScript reader (npm test)", vectorsFile)
	}
	refused := 0
	for _, c := range f.Corrupt {
		if c.Error != "" {
			refused++
		}
	}
	t.Logf("%d vectors, %d corruptions (%d refused by schema.Apply), %d bytes", len(f.Vectors), len(f.Corrupt), refused, len(b))
}
