package gameschema

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.canonical golden files")

// TestCanonicalGolden pins the canonical text (and so the hash) of the
// testdata schemas: a change to the format must be deliberate (go test
// -run TestCanonicalGolden -update), and clients that reproduce the text
// must change with it.
func TestCanonicalGolden(t *testing.T) {
	for _, name := range []string{"arena", "cards"} {
		s := loadFile(t, name)
		path := filepath.Join("testdata", name+".canonical")
		if *update {
			if err := os.WriteFile(path, []byte(s.Canonical()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if s.Canonical() != string(want) {
			t.Errorf("%s: canonical text changed:\n%s\nwant:\n%s", name, s.Canonical(), want)
		}
	}
}

// TestHashIgnoresCompilation: the same .fbs compiled from another
// directory and with documentation kept gives a different .bfbs but the
// same hash.
func TestHashIgnoresCompilation(t *testing.T) {
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("flatc not found; CI installs flatbuffers-compiler")
		}
		t.Skip("flatc not found")
	}
	committed, err := os.ReadFile("testdata/cards.bfbs")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/cards.fbs")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flatc, "--binary", "--schema", "--bfbs-comments", "-o", dir, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flatc: %v: %s", err, out)
	}
	other, err := os.ReadFile(filepath.Join(dir, "cards.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, committed) {
		t.Fatal("the two compilations gave the same bytes: the test shows nothing")
	}
	a, b := loadFile(t, "cards"), mustLoad(t, other)
	if a.Hash != b.Hash {
		t.Errorf("hash %x, want %x", b.Hash, a.Hash)
	}
}

func mustLoad(t *testing.T, b []byte) *Schema {
	t.Helper()
	s, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
