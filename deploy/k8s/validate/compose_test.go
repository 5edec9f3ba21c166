package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const deployDir = "../.." // deploy/

// composeFile is the part of the Compose format deploy/compose.yaml uses
// for the checks below (decoded leniently: Compose has many more fields).
type composeFile struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Profiles    []string          `json:"profiles"`
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
		Ports       []string          `json:"ports"`
		Secrets     []string          `json:"secrets"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
	Secrets map[string]any `json:"secrets"`
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil { // resolves anchors and merge keys
		t.Fatalf("compose.yaml: %v", err)
	}
	return &c
}

// TestCompose checks deploy/compose.yaml: three nodes with their own ids,
// data volumes and certificates, n1 bootstrapping and the others joining
// it, settings that name node flags, and the files it mounts.
func TestCompose(t *testing.T) {
	c := loadCompose(t)
	defined, err := NodeFlags(repoRoot, filepath.Join(repoRoot, "cmd", "ticksync"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range defined {
		known[EnvName(f)] = true
	}
	nodes := []string{"n1", "n2", "n3"}
	ports := map[string]bool{}
	for _, id := range nodes {
		s, ok := c.Services[id]
		if !ok {
			t.Errorf("no service %s", id)
			continue
		}
		env := s.Environment
		for k := range env {
			if strings.HasPrefix(k, "TICKSYNC_") && !known[k] {
				t.Errorf("%s: %s names no node flag", id, k)
			}
		}
		if env["TICKSYNC_NODE_ID"] != id {
			t.Errorf("%s: TICKSYNC_NODE_ID %q, want %q", id, env["TICKSYNC_NODE_ID"], id)
		}
		if id == "n1" {
			if env["TICKSYNC_BOOTSTRAP"] != "true" || env["TICKSYNC_JOIN"] != "" {
				t.Errorf("n1 must bootstrap and join nobody (bootstrap %q, join %q)", env["TICKSYNC_BOOTSTRAP"], env["TICKSYNC_JOIN"])
			}
		} else if env["TICKSYNC_JOIN"] != "http://n1:7350" || env["TICKSYNC_BOOTSTRAP"] != "" {
			t.Errorf("%s must join http://n1:7350 and not bootstrap (join %q, bootstrap %q)", id, env["TICKSYNC_JOIN"], env["TICKSYNC_BOOTSTRAP"])
		}
		if env["TICKSYNC_RAFT_ADVERTISE"] != id+":7351" || env["TICKSYNC_API_ADVERTISE"] != "http://"+id+":7350" {
			t.Errorf("%s: raft advertise %q, api advertise %q: want its service name", id, env["TICKSYNC_RAFT_ADVERTISE"], env["TICKSYNC_API_ADVERTISE"])
		}
		if env["TICKSYNC_RAFT_ADDR"] != "0.0.0.0:7351" || env["TICKSYNC_ADMIN_TOKEN"] == "" {
			t.Errorf("%s: want TICKSYNC_RAFT_ADDR 0.0.0.0:7351 and an admin token", id)
		}
		if env["TICKSYNC_CLUSTER_CERT"] != "/certs/"+id+".crt" || env["TICKSYNC_CLUSTER_KEY"] != "/certs/"+id+".key" {
			t.Errorf("%s: cluster cert/key %q %q, want /certs/%s.crt and .key", id, env["TICKSYNC_CLUSTER_CERT"], env["TICKSYNC_CLUSTER_KEY"], id)
		}
		if !slices.Contains(s.Volumes, id+"-data:/data") || !slices.Contains(s.Volumes, "certs:/certs:ro") {
			t.Errorf("%s: volumes %v, want %s-data:/data and certs:/certs:ro", id, s.Volumes, id)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published beyond loopback", id, p)
			}
			ports[p] = true
		}
	}
	if len(ports) != len(nodes) {
		t.Errorf("node ports %v: want one distinct port per node", ports)
	}
	if s := c.Services["certs"]; !slices.Contains(s.Profiles, "setup") || !slices.Contains(s.Command, "certs") ||
		!slices.Contains(s.Command, strings.Join(nodes, ",")) {
		t.Errorf("certs service: want profile setup and `certs ... -nodes %s`, got %v %v", strings.Join(nodes, ","), s.Profiles, s.Command)
	}
	if !slices.Contains(c.Services["prometheus"].Secrets, "admin_token") || c.Secrets["admin_token"] == nil {
		t.Errorf("prometheus must get the admin_token secret (its bearer for /metrics)")
	}
	// Files mounted from the repository exist.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			if src, _, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if ok && !strings.HasPrefix(src, "/") {
				if _, declared := c.Volumes[src]; !declared {
					t.Errorf("%s mounts volume %s, which compose.yaml does not declare", name, src)
				}
			}
		}
	}
}

// scrapeConfig is the part of a Prometheus scrape job the checks read.
type scrapeConfig struct {
	JobName       string `json:"job_name"`
	MetricsPath   string `json:"metrics_path"`
	HonorLabels   bool   `json:"honor_labels"`
	Authorization struct {
		Type            string `json:"type"`
		CredentialsFile string `json:"credentials_file"`
	} `json:"authorization"`
	StaticConfigs []struct {
		Targets []string `json:"targets"`
	} `json:"static_configs"`
}

// TestPrometheus checks that Prometheus scrapes each compose node with the
// admin token.
func TestPrometheus(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cfg.ScrapeConfigs, func(s scrapeConfig) bool {
		return s.JobName == "ticksync"
	})
	if i < 0 {
		t.Fatalf("no scrape job ticksync")
	}
	job := cfg.ScrapeConfigs[i]
	if job.MetricsPath != "/metrics" || job.Authorization.Type != "Bearer" || job.Authorization.CredentialsFile != "/run/secrets/admin_token" {
		t.Errorf("job ticksync: want /metrics with a Bearer from /run/secrets/admin_token, got %+v", job)
	}
	if !job.HonorLabels {
		t.Errorf("job ticksync: honor_labels must be true (the nodes label their series with node)")
	}
	var targets []string
	for _, sc := range job.StaticConfigs {
		targets = append(targets, sc.Targets...)
	}
	c := loadCompose(t)
	for _, tg := range targets {
		host, _, _ := strings.Cut(tg, ":")
		if _, ok := c.Services[host]; !ok || !strings.HasSuffix(tg, ":7350") {
			t.Errorf("target %s is not a compose node's HTTP port", tg)
		}
	}
	if len(targets) != 3 {
		t.Errorf("targets %v: want the three nodes", targets)
	}
}

// TestDashboard checks the Grafana dashboard's shape: every panel queries
// the datasource variable with a PromQL expression, ids are unique, and the
// variables the queries use exist.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "ticksync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || !vars["datasource"] {
			t.Errorf("panel %q: want datasource ${datasource}", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if strings.Count(q.Expr, "(") != strings.Count(q.Expr, ")") || strings.Count(q.Expr, "{") != strings.Count(q.Expr, "}") {
				t.Errorf("panel %q: unbalanced expression %s", p.Title, q.Expr)
			}
			for _, v := range []string{"node", "game"} {
				if strings.Contains(q.Expr, "$"+v) && !vars[v] {
					t.Errorf("panel %q uses $%s, which is not a variable", p.Title, v)
				}
			}
		}
	}
	t.Logf("dashboard %s: %d panels, %d queries", d.UID, len(d.Panels), queries)
	if d.UID == "" || queries == 0 {
		t.Errorf("dashboard: no uid or no queries")
	}
}
