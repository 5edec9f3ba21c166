package testutil

import (
	"slices"
	"testing"
)

func TestDuplicateKeys(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
		bad  bool
	}{
		{`{"level":"info","node":"n1","message":"x"}`, nil, false},
		{`{"level":"info","node":"n1","c":{"node":1},"node":"Node at x","message":"x","node":2}`, []string{"node", "node"}, false},
		{`{"a":[1,{"a":2}],"b":"a"}`, nil, false},
		{`not json`, nil, true},
		{`[1,2]`, nil, true},
	} {
		got, err := DuplicateKeys([]byte(tt.line))
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v %v, want %v (error %v)", tt.line, got, err, tt.want, tt.bad)
		}
	}
}
