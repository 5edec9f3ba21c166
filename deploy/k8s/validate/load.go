package validate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Kustomization is the part of kustomize's file format the manifests use.
// Decoding is strict: a field used in kustomization.yaml must be added here.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// Set is every object decoded from a set of files.
type Set struct {
	StatefulSets []*appsv1.StatefulSet
	Services     []*corev1.Service
	Secrets      []*corev1.Secret
	ConfigMaps   []*corev1.ConfigMap
	PDBs         []*policyv1.PodDisruptionBudget
}

// LoadKustomization reads dir/kustomization.yaml strictly.
func LoadKustomization(dir string) (*Kustomization, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k Kustomization
	if err := unmarshalStrict(b, &k); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		return nil, fmt.Errorf("kustomization.yaml: apiVersion/kind %s/%s, want kustomize.config.k8s.io/v1beta1/Kustomization", k.APIVersion, k.Kind)
	}
	return &k, nil
}

// docSep splits a YAML stream at document markers.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// LoadFiles decodes every document of the files (relative to dir) into s.
func (s *Set) LoadFiles(dir string, files ...string) error {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := s.decode([]byte(doc)); err != nil {
				return fmt.Errorf("%s, document %d: %w", f, i+1, err)
			}
		}
	}
	return nil
}

func stripComments(doc string) string {
	var out bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line + "\n")
		}
	}
	return out.String()
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// decode decodes one document strictly into the typed object its
// apiVersion and kind name.
func (s *Set) decode(doc []byte) error {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	strict := func(v any) error {
		if err := unmarshalStrict(doc, v); err != nil {
			return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 StatefulSet":
		o := new(appsv1.StatefulSet)
		s.StatefulSets = append(s.StatefulSets, o)
		return strict(o)
	case "v1 Service":
		o := new(corev1.Service)
		s.Services = append(s.Services, o)
		return strict(o)
	case "v1 Secret":
		o := new(corev1.Secret)
		s.Secrets = append(s.Secrets, o)
		return strict(o)
	case "v1 ConfigMap":
		o := new(corev1.ConfigMap)
		s.ConfigMaps = append(s.ConfigMaps, o)
		return strict(o)
	case "policy/v1 PodDisruptionBudget":
		o := new(policyv1.PodDisruptionBudget)
		s.PDBs = append(s.PDBs, o)
		return strict(o)
	}
	return fmt.Errorf("apiVersion %q kind %q: not a kind these manifests use (add it to the validator)", tm.APIVersion, tm.Kind)
}

// unmarshalStrict decodes a YAML document as the API server's strict field
// validation does: duplicate keys, unknown fields and fields in the wrong
// case ("ServiceName") are errors.
func unmarshalStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// Service returns the Service named name, or nil.
func (s *Set) Service(name string) *corev1.Service {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// Secret returns the Secret named name, or nil.
func (s *Set) Secret(name string) *corev1.Secret {
	for _, sec := range s.Secrets {
		if sec.Name == name {
			return sec
		}
	}
	return nil
}

// SecretKeys are the keys of a Secret's data and stringData.
func SecretKeys(sec *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range sec.Data {
		keys[k] = true
	}
	for k := range sec.StringData {
		keys[k] = true
	}
	return keys
}

// Selects reports whether selector (matchLabels) selects a pod with labels.
func Selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// varRef matches a Kubernetes $(VAR) reference.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// Expand replaces $(VAR) references as the kubelet does for env values,
// command and args: from vars, leaving unknown references as they are.
func Expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// flagDef matches a flag definition in the node's sources:
// fs.StringVar(&c.NodeID, "node-id", ...), fs.Var(&x, "allowed-origins", ...).
var flagDef = regexp.MustCompile(`\b(?:fs|flags|f)\.(?:String|Bool|Int|Int64|Uint|Uint64|Duration|Float64|Func|Text)?Var\([^,]+,\s*"([a-z0-9-]+)"`)

// NodeFlags returns the flag names defined in the Go files of the given
// folders (not recursive, tests excluded), sorted.
func NodeFlags(dirs ...string) ([]string, error) {
	seen := map[string]bool{}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, m := range flagDef.FindAllSubmatch(b, -1) {
				seen[string(m[1])] = true
			}
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// EnvName is the environment variable of a flag: -http-addr → TICKSYNC_HTTP_ADDR.
func EnvName(flag string) string {
	return "TICKSYNC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
