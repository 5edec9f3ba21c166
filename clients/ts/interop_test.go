// Package tsclient_test is the Go half of the TypeScript client's interop
// tests (test/interop.test.ts): both sides keep their encodings in
// testdata, and each decodes the other's.
//
//   - go_tables.json: game tables (entities, inputs, join payloads, client
//     and server events of the arena, cards and eight random schemas) that
//     gameschema built from random values, with those values as text.
//     TestGoVectorsCurrent checks it is what Go builds today (-update
//     rewrites it); the TypeScript test decodes every table to the same
//     values and encodes them again into ts_tables.json.
//   - ts_tables.json: TestTypeScriptTables verifies and decodes each of
//     TypeScript's tables with gameschema: the same values.
//   - go_messages.json and ts_messages.json: envelope messages both ways
//     (messages_test.go).
package tsclient_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/gameschema"
)

var update = flag.Bool("update", false, "rewrite the go_*.json files in testdata")

const gameschemaTestdata = "../../schema/gameschema/testdata"

type goItem struct {
	Table  string            `json:"table"`
	Events string            `json:"events,omitempty"` // "client" or "server": data is that direction's wrapper
	Values map[string]string `json:"values"`
	Data   string            `json:"data"` // hex
}

type goSchema struct {
	Name  string   `json:"name"`
	BFBS  string   `json:"bfbs"` // hex
	Items []goItem `json:"items"`
}

type goTables struct {
	Schemas []goSchema `json:"schemas"`
}

// tsTables holds TypeScript's encodings of go_tables.json's values, by
// schema and item.
type tsTables struct {
	Schemas [][]string `json:"schemas"`
}

func readJSON[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func load(t *testing.T, src goSchema) *gameschema.Schema {
	t.Helper()
	b, err := hex.DecodeString(src.BFBS)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		t.Fatalf("%s: %v", src.Name, err)
	}
	return s
}

// sources are the schemas of go_tables.json: arena, cards and the first
// eight random schemas of gameschema's vectors.
func sources(t *testing.T) []goSchema {
	t.Helper()
	var out []goSchema
	for _, name := range []string{"arena", "cards"} {
		b, err := os.ReadFile(filepath.Join(gameschemaTestdata, name+".bfbs"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, goSchema{Name: name, BFBS: hex.EncodeToString(b)})
	}
	raw, err := os.ReadFile(filepath.Join(gameschemaTestdata, "vectors", "random.json"))
	if err != nil {
		t.Fatal(err)
	}
	var random []struct {
		Seed uint64 `json:"seed"`
		BFBS string `json:"bfbs"`
	}
	if err := json.Unmarshal(raw, &random); err != nil {
		t.Fatal(err)
	}
	for _, r := range random[:min(len(random), 8)] {
		out = append(out, goSchema{Name: "random-" + strconv.FormatUint(r.Seed, 10), BFBS: r.BFBS})
	}
	return out
}

// target is one table the vectors hold: a plain table, or an event member
// (built and read through its wrapper).
type target struct {
	table  *gameschema.Table
	events *gameschema.Events
	dir    string
}

func targets(s *gameschema.Schema) []target {
	var out []target
	for _, e := range s.Entities {
		out = append(out, target{table: e})
	}
	out = append(out, target{table: s.Input})
	if s.Join != nil {
		out = append(out, target{table: s.Join})
	}
	for _, d := range []struct {
		dir string
		ev  *gameschema.Events
	}{{"client", s.ClientEvents}, {"server", s.ServerEvents}} {
		if d.ev == nil {
			continue
		}
		for _, m := range d.ev.Tables {
			out = append(out, target{table: m, events: d.ev, dir: d.dir})
		}
	}
	return out
}

func findTarget(s *gameschema.Schema, it goItem) (target, error) {
	for _, tg := range targets(s) {
		if tg.table.Name == it.Table && tg.dir == it.Events {
			return tg, nil
		}
	}
	return target{}, fmt.Errorf("%s: no table %s (%q)", s.Name, it.Table, it.Events)
}

func (tg target) build(v *gameschema.Values) []byte {
	b := flatbuffers.NewBuilder(256)
	if tg.events != nil {
		b.Finish(tg.events.Build(b, v))
	} else {
		b.Finish(tg.table.Build(b, v))
	}
	return b.FinishedBytes()
}

func (tg target) decode(buf []byte, v *gameschema.Values) error {
	if tg.events == nil {
		return tg.table.Decode(buf, v)
	}
	got, err := tg.events.Decode(buf, v)
	if err == nil && got != tg.table {
		return fmt.Errorf("decoded a %s, want a %s", got.Name, tg.table.Name)
	}
	return err
}

// tame keeps fixed-point integers within ±2^40 quanta, where the real
// value the TypeScript client shows (quanta × quantum, a float64) names
// its quanta exactly.
func tame(v *gameschema.Values) {
	const lim = 1 << 40
	for i := range v.Table.Fields {
		f := &v.Table.Fields[i]
		if f.Quantum == 0 || !f.Type.IsInteger() {
			continue
		}
		if f.Type == gameschema.Uint64 {
			if x := v.Uint(i); x > lim {
				v.SetUint(i, max(f.UMin, x%lim))
			}
			continue
		}
		if x := v.Int(i); x > lim || x < -lim {
			v.SetInt(i, max(f.Min, min(f.Max, x%lim)))
		}
	}
}

// apiValues writes v's fields as the TypeScript client's values read:
// bools, integers (uint64 unsigned), real values of floats and fixed-point
// integers (shortest float64 text), strings, hex bytes.
func apiValues(v *gameschema.Values) map[string]string {
	out := map[string]string{}
	for i := range v.Table.Fields {
		f := &v.Table.Fields[i]
		var s string
		switch {
		case f.Type == gameschema.Bool:
			s = strconv.FormatBool(v.Bool(i))
		case f.Type == gameschema.String:
			s = v.Text(i)
		case f.Type == gameschema.Bytes:
			s = hex.EncodeToString(v.Bytes(i))
		case f.Type.IsFloat() || f.Quantum != 0:
			s = strconv.FormatFloat(v.Float(i), 'g', -1, 64)
		case f.Type == gameschema.Uint64:
			s = strconv.FormatUint(v.Uint(i), 10)
		default:
			s = strconv.FormatInt(v.Int(i), 10)
		}
		out[f.Name] = s
	}
	return out
}

func buildTables(t *testing.T, srcs []goSchema) goTables {
	t.Helper()
	rng := rand.New(rand.NewPCG(2026, 12))
	var out goTables
	for _, src := range srcs {
		src.Items = nil
		s := load(t, src)
		for _, tg := range targets(s) {
			for range 3 {
				var v, back gameschema.Values
				v.Reset(tg.table)
				v.Randomize(rng)
				tame(&v)
				data := tg.build(&v)
				if err := tg.decode(data, &back); err != nil {
					t.Fatalf("%s: %s: Go's own table: %v", src.Name, tg.table.Name, err)
				}
				src.Items = append(src.Items, goItem{Table: tg.table.Name, Events: tg.dir, Values: apiValues(&back), Data: hex.EncodeToString(data)})
			}
		}
		out.Schemas = append(out.Schemas, src)
	}
	return out
}

// TestGoVectorsCurrent checks go_tables.json is what Go builds today from
// the schemas it holds (so that new random schemas in gameschema's vectors
// do not change it); -update rewrites it from the current sources.
func TestGoVectorsCurrent(t *testing.T) {
	srcs := sources(t)
	if !*update {
		srcs = readJSON[goTables](t, "go_tables.json").Schemas
	}
	checkCurrent(t, "go_tables.json", buildTables(t, srcs))
}

// checkCurrent compares testdata/name with v as JSON, or writes it with -update.
func checkCurrent(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b) {
		t.Errorf("%s is not what Go writes today: run go test ./clients/ts -update, then TICKSYNC_UPDATE=1 npm test in clients/ts", path)
	}
}

// TestTypeScriptTables verifies and decodes the tables the TypeScript
// client built from go_tables.json's values: the same values.
func TestTypeScriptTables(t *testing.T) {
	goT := readJSON[goTables](t, "go_tables.json")
	tsT := readJSON[tsTables](t, "ts_tables.json")
	if len(tsT.Schemas) != len(goT.Schemas) {
		t.Fatalf("ts_tables.json: %d schemas, go_tables.json %d", len(tsT.Schemas), len(goT.Schemas))
	}
	n := 0
	for i, src := range goT.Schemas {
		s := load(t, src)
		if len(tsT.Schemas[i]) != len(src.Items) {
			t.Fatalf("%s: %d TypeScript tables for %d items", src.Name, len(tsT.Schemas[i]), len(src.Items))
		}
		for j, it := range src.Items {
			tg, err := findTarget(s, it)
			if err != nil {
				t.Fatal(err)
			}
			data, err := hex.DecodeString(tsT.Schemas[i][j])
			if err != nil {
				t.Fatal(err)
			}
			var v gameschema.Values
			if err := tg.decode(data, &v); err != nil {
				t.Errorf("%s item %d (%s): TypeScript's table: %v", src.Name, j, it.Table, err)
				continue
			}
			if got := apiValues(&v); !maps.Equal(got, it.Values) {
				t.Errorf("%s item %d (%s): TypeScript's table holds %v, want %v", src.Name, j, it.Table, got, it.Values)
			}
			n++
		}
	}
	t.Logf("%d TypeScript tables verified and decoded", n)
}
