package gameschema

import (
	"os"
	"path/filepath"
	"testing"
)

// loadFile loads testdata/name.bfbs.
func loadFile(t testing.TB, name string) *Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(b)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

func TestLoadTestdata(t *testing.T) {
	for _, name := range []string{"arena", "cards"} {
		s := loadFile(t, name)
		t.Logf("%s %x\n%s", s.Name, s.Hash, s.Canonical())
	}
}
