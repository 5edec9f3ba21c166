package ticksync

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
)

// docMetric is one row of a table in docs/METRICS.md.
type docMetric struct {
	typ    string
	labels []string // sorted; without "node"
}

// readMetricsDoc parses the rows "| `name` | type | labels | …" of
// docs/METRICS.md; the labels are the back-quoted words of the third
// column.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	b, err := os.ReadFile("docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([a-z_:]+)` \\| (counter|gauge|histogram|summary) \\| ([^|]*) \\|")
	quoted := regexp.MustCompile("`([a-z_]+)`")
	doc := map[string]docMetric{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "| `") {
				t.Errorf("docs/METRICS.md: a row this test cannot read: %s", line)
			}
			continue
		}
		if _, dup := doc[m[1]]; dup {
			t.Errorf("docs/METRICS.md lists %s twice", m[1])
		}
		d := docMetric{typ: m[2], labels: []string{}}
		for _, l := range quoted.FindAllStringSubmatch(m[3], -1) {
			d.labels = append(d.labels, l[1])
		}
		slices.Sort(d.labels)
		doc[m[1]] = d
	}
	return doc
}

// TestMetricsDocumented scrapes a real node's /metrics (with the admin
// token) and checks it against docs/METRICS.md: every metric the page
// lists is exported with that type and those labels, every ticksync_
// metric exported is on the page, and every ticksync_ series carries the
// node's id.
func TestMetricsDocumented(t *testing.T) {
	doc := readMetricsDoc(t)
	n, err := New(testConfig(t, "n1", io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	testutil.CheckFor(t, 15*time.Second, n.Ready)

	req, _ := http.NewRequest(http.MethodGet, "http://"+n.Addr().String()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.cfg.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	for name, d := range doc {
		f, ok := families[name]
		if !ok {
			t.Errorf("docs/METRICS.md lists %s; the node does not export it", name)
			continue
		}
		if typ := strings.ToLower(f.GetType().String()); typ != d.typ {
			t.Errorf("%s: docs/METRICS.md says %s, the node exports a %s", name, d.typ, typ)
		}
		if got := labelNames(f); !slices.Equal(got, d.labels) {
			t.Errorf("%s: docs/METRICS.md lists labels %v, the node exports %v", name, d.labels, got)
		}
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "ticksync_") {
			continue
		}
		if _, ok := doc[name]; !ok {
			t.Errorf("the node exports %s (%s): add it to docs/METRICS.md", name, f.GetHelp())
		}
		for _, m := range f.GetMetric() {
			if node := labelValue(m, "node"); node != "n1" {
				t.Errorf("%s: a series with node %q, want n1", name, node)
			}
		}
	}
}

// labelNames are the label names of f's series, "node" left out, sorted.
func labelNames(f *dto.MetricFamily) []string {
	names := []string{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if n := l.GetName(); n != "node" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
