package gameschema

import (
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// Fuzz targets for everything that reads untrusted bytes: the schema file
// (FuzzLoad) and game buffers, for random schemas (FuzzVerify) and for the
// arena and cards schemas (FuzzVerifyGame). Seeds are added in code from the
// testdata schemas and from valid buffers built for them; crashers found
// by fuzzing are kept under testdata/fuzz/<FuzzName>/ as regression seeds.

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"arena", "cards", "reflection"} {
		b, err := os.ReadFile("testdata/" + name + ".bfbs")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for seed := range uint64(8) {
		f.Add(randomSpec(rand.New(rand.NewPCG(seed, 7))).bytes())
	}
	f.Add(baseSpec().bytes())
	b := flatbuffers.NewBuilder(256)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(data)
		if err != nil {
			if !errors.Is(err, ErrBadSchema) {
				t.Fatalf("error %v does not wrap ErrBadSchema", err)
			}
			return
		}
		// Whatever loads is consistent: valid values build into buffers
		// that verify and decode the same.
		rng := rand.New(rand.NewPCG(uint64(len(data)), 1))
		var v, got Values
		for _, tg := range targets(s) {
			randValues(rng, tg.table, &v)
			buf := tg.build(b, &v)
			if err := tg.decode(buf, &got); err != nil {
				t.Fatalf("%s: built buffer refused: %v", tg.name, err)
			}
			if err := sameValues(&v, &got); err != nil {
				t.Fatalf("%s: %v", tg.name, err)
			}
		}
	})
}

// randomSchemas caches the random schemas FuzzVerify draws from.
var randomSchemas = struct {
	sync.Mutex
	m map[uint64]*Schema
}{m: map[uint64]*Schema{}}

const fuzzSchemas = 256

func randomSchema(tb testing.TB, seed uint64) *Schema {
	seed %= fuzzSchemas
	randomSchemas.Lock()
	defer randomSchemas.Unlock()
	if s, ok := randomSchemas.m[seed]; ok {
		return s
	}
	s, err := Load(randomSpec(rand.New(rand.NewPCG(seed, 7))).bytes())
	if err != nil {
		tb.Fatalf("random schema %d: %v", seed, err)
	}
	randomSchemas.m[seed] = s
	return s
}

// checkAccepted fails t if err is neither a verifier error nor nil, and,
// when nil, if the decoded values do not rebuild into the same.
func checkAccepted(t *testing.T, tg target, v *Values, err error) {
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("error %v wraps neither ErrMalformed nor ErrOutOfRange", err)
		}
		return
	}
	if err := roundTrip(tg, v, flatbuffers.NewBuilder(256)); err != nil {
		t.Fatalf("%s: accepted, but %v", tg.name, err)
	}
}

func FuzzVerify(f *testing.F) {
	b := flatbuffers.NewBuilder(256)
	var v Values
	for seed := range uint64(16) {
		s := randomSchema(f, seed)
		rng := rand.New(rand.NewPCG(seed, 3))
		for i, tg := range targets(s) {
			randValues(rng, tg.table, &v)
			f.Add(seed, uint8(i), append([]byte(nil), tg.build(b, &v)...))
		}
	}
	f.Fuzz(func(t *testing.T, seed uint64, which uint8, data []byte) {
		tgs := targets(randomSchema(t, seed))
		tg := tgs[int(which)%len(tgs)]
		var v Values
		checkAccepted(t, tg, &v, tg.decodeAny(data, &v))
	})
}

func FuzzVerifyGame(f *testing.F) {
	var tgs []target
	for _, name := range []string{"arena", "cards"} {
		tgs = append(tgs, targets(loadFile(f, name))...)
	}
	b := flatbuffers.NewBuilder(256)
	var v Values
	rng := rand.New(rand.NewPCG(5, 5))
	for i, tg := range tgs {
		for range 3 {
			randValues(rng, tg.table, &v)
			f.Add(uint8(i), append([]byte(nil), tg.build(b, &v)...))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		tg := tgs[int(which)%len(tgs)]
		var v Values
		checkAccepted(t, tg, &v, tg.decodeAny(data, &v))
	})
}
