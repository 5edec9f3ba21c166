package gameschema

import (
	"os"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// TestPlanMatchesReflection checks the .bfbs verifier's plan against
// reflection.fbs itself, as flatc compiled it (testdata/reflection.bfbs):
// every planned field exists with that slot, kind, size and required flag.
func TestPlanMatchesReflection(t *testing.T) {
	b, err := os.ReadFile("testdata/reflection.bfbs")
	if err != nil {
		t.Fatal(err)
	}
	root, err := verifyBFBS(b, DefaultConfig().MaxSchemaTables)
	if err != nil {
		t.Fatalf("reflection.bfbs does not pass its own verifier: %v", err)
	}
	var s reflection.Schema
	s.Init(b, flatbuffers.UOffsetT(root))
	objects := map[string]*reflection.Object{}
	for i := range s.ObjectsLength() {
		o := new(reflection.Object)
		s.Objects(o, i)
		objects[string(o.Name())] = o
	}
	for _, p := range []*plan{planSchema, planObject, planFld, planEnum, planEnumVal, planKeyValue, planType} {
		o := objects["reflection."+p.name]
		if o == nil {
			t.Errorf("no table reflection.%s", p.name)
			continue
		}
		fields := map[string]*reflection.Field{}
		for i := range o.FieldsLength() {
			f := new(reflection.Field)
			o.Fields(f, i)
			fields[string(f.Name())] = f
		}
		for _, pf := range p.fields {
			f := fields[pf.name]
			if f == nil {
				t.Errorf("%s.%s: not in reflection.fbs", p.name, pf.name)
				continue
			}
			var typ reflection.Type
			f.Type(&typ)
			if int(f.Id()) != int(pf.slot) || f.Required() != pf.required {
				t.Errorf("%s.%s: id %d required %v, plan says %d %v", p.name, pf.name, f.Id(), f.Required(), pf.slot, pf.required)
			}
			var kind int
			var size uint32
			switch bt := typ.BaseType(); {
			case scalarType(bt) != 0:
				kind, size = pScalar, uint32(scalarType(bt).Size())
			case bt == reflection.BaseTypeString:
				kind = pString
			case bt == reflection.BaseTypeObj:
				kind = pTable
			case bt == reflection.BaseTypeVector && typ.Element() == reflection.BaseTypeObj:
				kind = pVecTable
			}
			if kind != pf.kind || kind == pScalar && size != pf.size {
				t.Errorf("%s.%s: kind %d size %d, plan says %d %d", p.name, pf.name, kind, size, pf.kind, pf.size)
			}
			if pf.sub != nil {
				var sub reflection.Object
				s.Objects(&sub, int(typ.Index()))
				if string(sub.Name()) != "reflection."+pf.sub.name {
					t.Errorf("%s.%s: of %s, plan says %s", p.name, pf.name, sub.Name(), pf.sub.name)
				}
			}
		}
	}
}
