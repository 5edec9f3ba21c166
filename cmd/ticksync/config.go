package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/net/ws"
)

// nodeConfig is the node's configuration, from flags and TICKSYNC_<NAME>
// environment variables (a flag wins over its variable).
type nodeConfig struct {
	NodeID             string
	HTTPAddr           string
	RaftAddr           string
	RaftAdvertise      string // host:port peers dial for Raft; empty: RaftAddr
	APIAdvertise       string // base URL peers call for the admin API; empty: http[s]://<bound http-addr>
	Advertise          string // filled from HTTPAddr when not given
	advertiseAuto      bool   // Advertise was derived: refresh it once the port is known
	DataDir            string
	Bootstrap          bool
	Join               string
	TickRate           int
	TLSCert, TLSKey    string
	AllowedOrigins     []string
	AdminToken         string
	AuthSecret         string
	FailoverAfter      time.Duration
	OwnerLease         time.Duration
	CheckpointInterval time.Duration
	ResumeGrace        time.Duration
	LogFormat          string
	LogLevel           zerolog.Level
}

// usageError is a bad flag or value: the process exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func badf(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// envName is the environment variable of a flag: -http-addr → TICKSYNC_HTTP_ADDR.
func envName(flagName string) string {
	return "TICKSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads args and the environment (getenv) into a validated
// nodeConfig. It returns flag.ErrHelp for -h, a *usageError for a bad flag
// or value (the message names the flag), or another error.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*nodeConfig, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node1"
	}
	var (
		c       nodeConfig
		origins string
		level   string
	)
	fs := flag.NewFlagSet("ticksync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.NodeID, "node-id", sanitizeID(host), "unique, stable id of this node")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:7350", "HTTP and WebSocket listener (host:port)")
	fs.StringVar(&c.RaftAddr, "raft-addr", "127.0.0.1:7351", "Raft TCP transport (host:port)")
	fs.StringVar(&c.RaftAdvertise, "raft-advertise", "", "host:port other nodes dial for Raft (default -raft-addr; set it behind NAT, a proxy or 0.0.0.0)")
	fs.StringVar(&c.APIAdvertise, "api-advertise", "", "http[s]:// URL other nodes call for this node's admin API: joins, heartbeats, forwarding (default from -http-addr)")
	fs.StringVar(&c.Advertise, "advertise", "", "URL clients use to reach this node's /ws (default ws[s]://<http-addr>/ws)")
	fs.StringVar(&c.DataDir, "data-dir", "./ticksync-data", "Raft log, stable store and snapshots")
	fs.BoolVar(&c.Bootstrap, "bootstrap", false, "form a new cluster")
	fs.StringVar(&c.Join, "join", "", "admin URL of a running node to join")
	fs.IntVar(&c.TickRate, "tick-rate", 30, "ticks per second, 1..128")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (serve https/wss; needs -tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated Origin allow-list for /ws (default: own host and localhost)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for /admin/v1/... and /debug/pprof, shared by the cluster's nodes (empty: random per process, a one-node cluster only)")
	fs.StringVar(&c.AuthSecret, "auth-secret", "", "HS256 secret for player tokens, at least 16 bytes; empty lets guests in")
	fs.DurationVar(&c.FailoverAfter, "failover-after", 1500*time.Millisecond, "a node silent this long is declared dead")
	fs.DurationVar(&c.OwnerLease, "owner-lease", time.Second, "an owner out of touch with a leader this long pauses its rooms")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", 500*time.Millisecond, "how often each room is checkpointed")
	fs.DurationVar(&c.ResumeGrace, "resume-grace", 15*time.Second, "how long a disconnected player's seat is kept")
	fs.StringVar(&c.LogFormat, "log-format", "console", "console or json")
	fs.StringVar(&level, "log-level", "info", "trace, debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ticksync [flags]\n\nRuns a ticksync node. Each flag is also an environment variable TICKSYNC_<NAME>\n(e.g. TICKSYNC_HTTP_ADDR); a flag wins over its variable.\n\n")
		fs.PrintDefaults()
	}

	// Environment first, so that flags override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		v, ok := lookup(getenv, name)
		if !ok || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = badf("-%s: %s=%q: %v", f.Name, name, v, err)
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, badf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if c.AllowedOrigins, err = ws.ParseOrigins(origins); err != nil {
		return nil, badf("-allowed-origins %q: %v", origins, err)
	}
	if c.LogLevel, err = zerolog.ParseLevel(strings.ToLower(level)); err != nil || level == "" {
		return nil, badf("-log-level %q: must be trace, debug, info, warn or error", level)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// sanitizeID makes a host name a valid default node id.
func sanitizeID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	if !idPattern.MatchString(s) {
		return "node1"
	}
	return s
}

// validate checks every value and fills derived defaults. Each error names
// its flag and says what is allowed.
func (c *nodeConfig) validate() error {
	if !idPattern.MatchString(c.NodeID) {
		return badf("-node-id %q: must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", c.NodeID)
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		return badf("-http-addr %q: %v", c.HTTPAddr, err)
	}
	if err := checkHostPort(c.RaftAddr); err != nil {
		return badf("-raft-addr %q: %v", c.RaftAddr, err)
	}
	if c.RaftAddr == c.HTTPAddr && !strings.HasSuffix(c.HTTPAddr, ":0") {
		return badf("-raft-addr %q: must differ from -http-addr", c.RaftAddr)
	}
	if c.RaftAdvertise != "" {
		if err := checkHostPort(c.RaftAdvertise); err != nil {
			return badf("-raft-advertise %q: %v", c.RaftAdvertise, err)
		}
	}
	if c.APIAdvertise != "" {
		if u, err := url.Parse(c.APIAdvertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badf("-api-advertise %q: must be an http:// or https:// URL, e.g. http://10.0.0.1:7350", c.APIAdvertise)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return badf("-tls-cert/-tls-key: give both or neither")
	}
	if c.TLSCert != "" {
		if _, err := httpserver.TLSConfig(c.TLSCert, c.TLSKey); err != nil {
			return badf("-tls-cert/-tls-key: %v", err)
		}
	}
	if c.Advertise == "" {
		c.Advertise, c.advertiseAuto = defaultAdvertise(c.HTTPAddr, c.TLSCert != ""), true
	}
	if u, err := url.Parse(c.Advertise); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return badf("-advertise %q: must be a ws:// or wss:// URL, e.g. wss://n1.example.com/ws", c.Advertise)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return badf("-data-dir: must not be empty")
	}
	if c.Join != "" {
		if c.Bootstrap {
			return badf("-join %q: cannot be used with -bootstrap", c.Join)
		}
		if u, err := url.Parse(c.Join); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badf("-join %q: must be the http:// or https:// address of a running node", c.Join)
		}
		if c.AdminToken == "" {
			return badf("-join %q: needs -admin-token, the same on every node (joins, heartbeats and forwarding use the admin API)", c.Join)
		}
	}
	if c.TickRate < 1 || c.TickRate > 128 {
		return badf("-tick-rate %d: must be 1..128", c.TickRate)
	}
	if strings.ContainsAny(c.AdminToken, " \t\r\n") {
		return badf("-admin-token: must not contain white space")
	}
	if c.AuthSecret != "" && len(c.AuthSecret) < 16 {
		return badf("-auth-secret: %d bytes, must be at least 16", len(c.AuthSecret))
	}
	durations := []struct {
		flag     string
		v        time.Duration
		min, max time.Duration
	}{
		{"failover-after", c.FailoverAfter, 100 * time.Millisecond, time.Hour},
		{"owner-lease", c.OwnerLease, 50 * time.Millisecond, time.Hour},
		{"checkpoint-interval", c.CheckpointInterval, 10 * time.Millisecond, time.Minute},
		{"resume-grace", c.ResumeGrace, 0, 24 * time.Hour},
	}
	for _, d := range durations {
		if d.v < d.min || d.v > d.max {
			return badf("-%s %v: must be %v..%v", d.flag, d.v, d.min, d.max)
		}
	}
	if c.OwnerLease >= c.FailoverAfter {
		return badf("-owner-lease %v: must be shorter than -failover-after (%v)", c.OwnerLease, c.FailoverAfter)
	}
	if c.LogFormat != "console" && c.LogFormat != "json" {
		return badf("-log-format %q: must be console or json", c.LogFormat)
	}
	return nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port")
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return errors.New("bad port")
	}
	return nil
}

// defaultAdvertise is ws[s]://<http-addr>/ws, with the host name in place
// of an unspecified address (0.0.0.0, ::, empty).
func defaultAdvertise(httpAddr string, tls bool) string {
	host, port, _ := net.SplitHostPort(httpAddr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	scheme := "ws"
	if tls {
		scheme = "wss"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/ws"
}
