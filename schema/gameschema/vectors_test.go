package gameschema

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// schemaVector is what a client that loads a .bfbs must reproduce: the
// schema's name, canonical text and hash, and its entity kinds with their
// flattened fields (clients/ts checks its loader against it).
type schemaVector struct {
	File      string     `json:"file"`
	Name      string     `json:"name"`
	Hash      string     `json:"hash"`
	Canonical string     `json:"canonical"`
	Entities  []vecTable `json:"entities"`
	Input     vecTable   `json:"input"`
}

type vecTable struct {
	Name   string     `json:"name"`
	Kind   int        `json:"kind"`
	Fields []vecField `json:"fields"`
}

type vecField struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Predict   int    `json:"predict"`
	OwnerOnly bool   `json:"ownerOnly,omitempty"`
	MaxLen    int    `json:"maxLen,omitempty"`
}

func toVecTable(t *Table) vecTable {
	v := vecTable{Name: t.Name, Kind: t.Kind}
	for _, f := range t.Fields {
		v.Fields = append(v.Fields, vecField{Name: f.Name, Type: f.Type.String(), Predict: f.Predict, OwnerOnly: f.OwnerOnly, MaxLen: f.MaxLen})
	}
	return v
}

// TestSchemaVectors keeps testdata/vectors/schemas.json equal to what Load
// makes of the testdata schemas (go test -run TestSchemaVectors -update).
func TestSchemaVectors(t *testing.T) {
	var out []schemaVector
	for _, name := range []string{"arena", "cards"} {
		s := loadFile(t, name)
		v := schemaVector{File: name + ".bfbs", Name: s.Name, Hash: s.HashString(), Canonical: s.Canonical(), Input: toVecTable(s.Input)}
		for _, e := range s.Entities {
			v.Entities = append(v.Entities, toVecTable(e))
		}
		out = append(out, v)
	}
	got, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "vectors", "schemas.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./schema/gameschema -run TestSchemaVectors -update", path)
	}
}

// randomVector is a random schema (the generator of TestRandomSchemas) with
// its canonical text and hash.
type randomVector struct {
	Seed      uint64 `json:"seed"`
	BFBS      string `json:"bfbs"` // hex
	Hash      string `json:"hash"`
	Canonical string `json:"canonical"`
}

// TestRandomSchemaVectors keeps testdata/vectors/random.json, random
// schemas with their canonical text and hash, equal to what Load makes of
// them (-update rewrites it): schemas with enums, bit sets, structs nested
// in structs, ranges, quanta, prediction and events that clients must hash
// as Go does.
func TestRandomSchemaVectors(t *testing.T) {
	var out []randomVector
	for seed := range uint64(24) {
		bfbs := randomSpec(rand.New(rand.NewPCG(seed, 7))).bytes()
		s, err := Load(bfbs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		out = append(out, randomVector{Seed: seed, BFBS: hex.EncodeToString(bfbs), Hash: s.HashString(), Canonical: s.Canonical()})
	}
	keyed := 0
	for _, v := range out {
		if strings.Contains(v.Canonical, " match_key\n") {
			keyed++
		}
	}
	if keyed == 0 {
		t.Error("no random schema has a match_key field")
	}
	got, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "vectors", "random.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./schema/gameschema -run TestRandomSchemaVectors -update", path)
	}
}
