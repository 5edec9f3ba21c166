package schema

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for everything that reads untrusted bytes. Their seed corpus
// lives in testdata/fuzz/<FuzzName>/: files named seed-* are written by
// TestFuzzCorpus (go test ./schema -run TestFuzzCorpus -gencorpus) from
// valid messages; other files are crashers found by fuzzing, kept as
// regression seeds. Run one target at a time, with minimization bounded
// (by default it may take a minute per new input, most of a short run):
//
//	go test ./schema -run '^$' -fuzz '^FuzzDecodeClientMessage$' -fuzztime 1m -fuzzminimizetime 1s

var genCorpus = flag.Bool("gencorpus", false, "rewrite the seed-* files of testdata/fuzz")

func FuzzDecodeClientMessage(f *testing.F) {
	var m, again ClientMessage
	e := NewEncoder(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := DecodeClientMessage(data, &m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrOutOfRange", err)
			}
			return
		}
		// Accepted: re-encoding gives a message that decodes the same.
		var out []byte
		switch m.Kind {
		case ClientHello:
			out = e.Hello(&m.Hello)
		case ClientInput:
			out = e.Input(&m.Input)
		case ClientLeave:
			out = e.Leave()
		case ClientPing:
			out = e.Ping(m.ClientTime)
		case ClientEvent:
			out = e.Event(&m.Event)
		default:
			t.Fatalf("accepted with kind %d", m.Kind)
		}
		if err := DecodeClientMessage(out, &again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if !clientEqual(&again, &m) {
			t.Fatalf("round trip: %+v became %+v", m, again)
		}
	})
}

func FuzzDecodeServerMessage(f *testing.F) {
	var m, again ServerMessage
	e := NewEncoder(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := DecodeServerMessage(data, &m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrOutOfRange", err)
			}
			return
		}
		var out []byte
		switch m.Kind {
		case ServerWelcome:
			out = e.Welcome(&m.Welcome)
		case ServerSnapshot:
			out, _ = e.Snapshot(&m.Snapshot)
		case ServerRedirect:
			out = e.Redirect(m.Redirect.URL, m.Redirect.MatchID)
		case ServerError:
			out = e.Error(m.Error.Code, m.Error.Message)
		case ServerPong:
			out = e.Pong(m.ClientTime, m.ServerTime)
		default:
			t.Fatalf("accepted with kind %d", m.Kind)
		}
		if err := DecodeServerMessage(out, &again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if !serverEqual(&again, &m) {
			t.Fatalf("round trip: %+v became %+v", m, again)
		}
	})
}

// corpusSeeds returns the generated seed corpus of each fuzz target.
func corpusSeeds() map[string]map[string][]byte {
	return map[string]map[string][]byte{
		"FuzzDecodeClientMessage": validClient(),
		"FuzzDecodeServerMessage": validServer(),
	}
}

func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestFuzzCorpus checks that the committed seed corpus is what the
// generator writes (and with -gencorpus writes it, removing seed-* files
// it no longer writes), and that every seed is valid, so that fuzzing
// starts from accepted inputs.
func TestFuzzCorpus(t *testing.T) {
	all := corpusSeeds()
	for name, data := range all["FuzzDecodeClientMessage"] {
		if err := VerifyClientMessage(data); err != nil {
			t.Errorf("FuzzDecodeClientMessage seed %s: %v", name, err)
		}
	}
	for name, data := range all["FuzzDecodeServerMessage"] {
		if err := VerifyServerMessage(data); err != nil {
			t.Errorf("FuzzDecodeServerMessage seed %s: %v", name, err)
		}
	}
	for target, seeds := range all {
		dir := filepath.Join("testdata", "fuzz", target)
		if *genCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name, ok := strings.CutPrefix(f.Name(), "seed-")
			if _, kept := seeds[name]; !ok || kept {
				continue
			}
			path := filepath.Join(dir, f.Name())
			if *genCorpus {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("%s is no seed the generator writes: run go test ./schema -run TestFuzzCorpus -gencorpus", path)
		}
		for name, data := range seeds {
			path := filepath.Join(dir, "seed-"+name)
			want := corpusFile(data)
			if *genCorpus {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s is missing or stale (err %v): run go test ./schema -run TestFuzzCorpus -gencorpus", path, err)
			}
		}
	}
}
