package ticksync

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/net/ws"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/tools/certs"
)

// Config configures a Node. Every field but the last few is a flag of the
// ticksync command (BindFlags binds them, with the same names and
// defaults, onto any flag.FlagSet). Start from DefaultConfig; New
// validates.
type Config struct {
	// NodeID is the unique, stable id of this node: its Raft id, for all
	// time (-node-id). Empty: the id in ClusterCert, else the host name
	// (New and ParseFlags fill it in). With ClusterCert it must be the
	// certificate's id.
	NodeID string
	// HTTPAddr is the HTTP and WebSocket listener, host:port; port 0 picks a
	// free one (-http-addr).
	HTTPAddr string
	// RaftAddr is the Raft TCP transport, host:port (-raft-addr).
	RaftAddr string
	// RaftAdvertise is the host:port other nodes dial for Raft; empty:
	// RaftAddr (-raft-advertise).
	RaftAdvertise string
	// APIAdvertise is the http[s]:// base URL other nodes call for this
	// node's admin API; empty: from the bound HTTP address (-api-advertise).
	APIAdvertise string
	// Advertise is the ws[s]:// URL clients use to reach this node's /ws,
	// sent in Redirect; empty: ws[s]://<bound HTTP address>/ws
	// (-advertise). Node.Advertise reports the one in use.
	Advertise string
	// DataDir holds the Raft log, stable store and snapshots (-data-dir).
	DataDir string
	// Bootstrap forms a new cluster with this node (-bootstrap).
	Bootstrap bool
	// Join is the http[s]:// address of a running node to ask to add this
	// one (-join; needs AdminToken). A Join equal to this node's own API
	// URL makes it the seed: it bootstraps an empty data dir (as Bootstrap
	// would) and rejoins with Raft state (seed.go).
	Join string
	// TickRate is the rooms' ticks per second, 1..128 (-tick-rate).
	TickRate int
	// TLSCert and TLSKey, both set, serve https and wss (-tls-cert,
	// -tls-key).
	TLSCert, TLSKey string
	// AllowedOrigins is the Origin allow-list of /ws; nil: the node's own
	// host and localhost (-allowed-origins, comma-separated).
	AllowedOrigins []string
	// AdminToken is the bearer token of /admin/v1/..., /debug/pprof and
	// /metrics, shared by the nodes of a cluster (-admin-token): a node
	// proxies an operator's request to the leader or a match's owner with
	// it. Without cluster certificates the node-to-node calls carry it too.
	// Empty: the one in <DataDir>/admin-token, which Start generates (mode
	// 0600) on the first start and reuses after; the log names the file (a
	// one-node cluster: the nodes of a cluster need the same token).
	AdminToken string
	// MetricsAddr, when set, serves /metrics without a token on a listener
	// of its own, host:port, plain HTTP (-metrics-addr). /metrics on
	// HTTPAddr always needs the admin token.
	MetricsAddr string
	// ClusterCA, ClusterCert and ClusterKey are PEM files: the cluster's CA
	// and this node's certificate and key, issued by it with the node's id
	// (`ticksync certs -out DIR -nodes n1,n2,n3` makes a dev set;
	// -cluster-ca, -cluster-cert, -cluster-key; all three or none). With
	// them Raft and every node-to-node call (joins, heartbeats, forwarded
	// commands, read-index, owner probes, proxied operator requests) run
	// over mutual TLS on the Raft port, and a node is the node its
	// certificate names.
	ClusterCA, ClusterCert, ClusterKey string
	// InsecureCluster lets a node without cluster certificates be part of
	// a cluster of several nodes (-insecure-cluster): join one, accept
	// joins, restart in one. Raft and the node-to-node calls are then
	// authenticated by nothing but the admin token; for a trusted network
	// only. A one-node cluster needs neither.
	InsecureCluster bool
	// AuthSecret is the HS256 secret of player tokens, at least 16 bytes;
	// empty lets guests in (-auth-secret).
	AuthSecret string
	// FailoverAfter: a node silent this long is declared dead and its
	// matches move (-failover-after).
	FailoverAfter time.Duration
	// OwnerLease: an owner out of touch with a leader this long pauses its
	// rooms; shorter than FailoverAfter by at least
	// replication.MinLeaseMargin (-owner-lease).
	OwnerLease time.Duration
	// CheckpointInterval is how often each room's newest checkpoint goes
	// into Raft (-checkpoint-interval).
	CheckpointInterval time.Duration
	// ResumeGrace is how long a disconnected player's seat is kept
	// (-resume-grace).
	ResumeGrace time.Duration
	// Admission limits; 0 means no limit. MaxConnsPerIP caps the open
	// connections from one source address (-max-conns-per-ip; over it the
	// upgrade gets 503), MaxUpgradesPerIP the upgrades from one address per
	// second (-max-upgrades-per-ip; 429), MaxMsgRate the messages one
	// session may send per second (-max-msg-rate; close 4012; never below
	// what the tick rate needs), MaxPlayers and MaxRooms the players seated
	// and the matches running on this node (-max-players, -max-rooms; Error
	// node full), MaxMatchesPerIP the matches guests from one address may
	// create per minute (-max-matches-per-ip; Error rate limited). A load
	// test from one machine raises or clears the per-address ones.
	MaxConnsPerIP    int
	MaxUpgradesPerIP int
	MaxMsgRate       int
	MaxPlayers       int
	MaxRooms         int
	MaxMatchesPerIP  int

	// LogFormat is "console" or "json" (-log-format); LogLevel the lowest
	// level logged (-log-level). Both shape the logger NewLogger builds.
	LogFormat string
	LogLevel  zerolog.Level

	// DefaultGame is the game of a Hello that names none. Empty: the only
	// game registered (Start fails when there are several). Not a flag.
	DefaultGame string
	// Logger is the node's logger. nil: NewLogger(os.Stderr). Not a flag.
	Logger *zerolog.Logger
}

// DefaultConfig returns the defaults of the ticksync command: a one-node
// dev cluster on 127.0.0.1:7350 (Raft on 127.0.0.1:7351, data in
// ./ticksync-data), 30 Hz, guests allowed, console logs at info.
func DefaultConfig() Config {
	wsDefaults, gameDefaults, replDefaults := ws.DefaultConfig(), game.DefaultConfig(), replication.DefaultConfig()
	return Config{
		HTTPAddr:           "127.0.0.1:7350",
		RaftAddr:           "127.0.0.1:7351",
		DataDir:            "./ticksync-data",
		TickRate:           30,
		FailoverAfter:      replDefaults.FailoverAfter, // 750 ms
		OwnerLease:         replDefaults.OwnerLease,    // 500 ms
		CheckpointInterval: 500 * time.Millisecond,
		ResumeGrace:        15 * time.Second,
		MaxConnsPerIP:      wsDefaults.MaxConnsPerIP,
		MaxUpgradesPerIP:   wsDefaults.MaxUpgradesPerIP,
		MaxMsgRate:         wsDefaults.MaxMessageRate,
		MaxPlayers:         gameDefaults.MaxPlayers,
		MaxRooms:           gameDefaults.MaxRooms,
		MaxMatchesPerIP:    gameDefaults.MaxMatchesPerIP,
		LogFormat:          "console",
		LogLevel:           zerolog.InfoLevel,
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// hostNodeID is the node id of a node without -node-id nor cluster
// certificate: the host name, made a valid id.
func hostNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "node1"
	}
	return sanitizeID(host)
}

// insecureAdvice says how to run a cluster of several nodes.
const insecureAdvice = "run `ticksync certs -out DIR -nodes n1,n2,n3` and give each node " +
	"-cluster-ca DIR/ca.crt -cluster-cert DIR/<id>.crt -cluster-key DIR/<id>.key " +
	"(or pass -insecure-cluster on a trusted network)"

// loadCluster loads the cluster certificates (nil, nil without them) and
// checks them against NodeID. Errors name the flags and the files.
func (c *Config) loadCluster() (*certs.NodeTLS, error) {
	set := 0
	for _, f := range []string{c.ClusterCA, c.ClusterCert, c.ClusterKey} {
		if f != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, nil
	case set < 3:
		return nil, errors.New("-cluster-ca, -cluster-cert, -cluster-key: give all three or none")
	case c.InsecureCluster:
		return nil, errors.New("-insecure-cluster: not with -cluster-ca/-cluster-cert/-cluster-key (the certificates secure the cluster)")
	}
	nt, err := certs.LoadNodeTLS(c.ClusterCA, c.ClusterCert, c.ClusterKey)
	if err != nil {
		return nil, fmt.Errorf("-cluster-ca/-cluster-cert/-cluster-key: %w", err)
	}
	if !idPattern.MatchString(nt.ID) {
		return nil, fmt.Errorf("-cluster-cert %s: node id %q: must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", c.ClusterCert, nt.ID)
	}
	if c.NodeID != "" && c.NodeID != nt.ID {
		return nil, fmt.Errorf("-node-id %q: the certificate %s (-cluster-cert) is node %q's: leave -node-id out (it defaults to the certificate's id), or give the certificate of node %q",
			c.NodeID, c.ClusterCert, nt.ID, c.NodeID)
	}
	return nt, nil
}

// fillNodeID sets an empty NodeID: the id in the cluster certificate nt,
// else the host name.
func (c *Config) fillNodeID(nt *certs.NodeTLS) {
	switch {
	case c.NodeID != "":
	case nt != nil:
		c.NodeID = nt.ID
	default:
		c.NodeID = hostNodeID()
	}
}

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

// Validate checks every field. Each error names the flag of the field and
// says what is allowed. It loads the TLS key pair and the cluster
// certificates to check them.
func (c *Config) Validate() error {
	if c.NodeID != "" && !idPattern.MatchString(c.NodeID) {
		return fmt.Errorf("-node-id %q: must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", c.NodeID)
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("-http-addr %q: %v", c.HTTPAddr, err)
	}
	if err := checkHostPort(c.RaftAddr); err != nil {
		return fmt.Errorf("-raft-addr %q: %v", c.RaftAddr, err)
	}
	if c.RaftAddr == c.HTTPAddr && !strings.HasSuffix(c.HTTPAddr, ":0") {
		return fmt.Errorf("-raft-addr %q: must differ from -http-addr", c.RaftAddr)
	}
	if c.MetricsAddr != "" {
		if err := checkHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("-metrics-addr %q: %v", c.MetricsAddr, err)
		}
		if (c.MetricsAddr == c.HTTPAddr || c.MetricsAddr == c.RaftAddr) && !strings.HasSuffix(c.MetricsAddr, ":0") {
			return fmt.Errorf("-metrics-addr %q: must differ from -http-addr and -raft-addr", c.MetricsAddr)
		}
	}
	if c.RaftAdvertise != "" {
		if err := checkHostPort(c.RaftAdvertise); err != nil {
			return fmt.Errorf("-raft-advertise %q: %v", c.RaftAdvertise, err)
		}
	}
	if c.APIAdvertise != "" {
		if u, err := url.Parse(c.APIAdvertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-api-advertise %q: must be an http:// or https:// URL, e.g. http://10.0.0.1:7350", c.APIAdvertise)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("-tls-cert/-tls-key: give both or neither")
	}
	if c.TLSCert != "" {
		if _, err := httpserver.TLSConfig(c.TLSCert, c.TLSKey); err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %v", err)
		}
	}
	if c.Advertise != "" {
		if u, err := url.Parse(c.Advertise); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("-advertise %q: must be a ws:// or wss:// URL, e.g. wss://n1.example.com/ws", c.Advertise)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("-data-dir: must not be empty")
	}
	if c.Join != "" {
		if c.Bootstrap {
			return fmt.Errorf("-join %q: cannot be used with -bootstrap", c.Join)
		}
		if u, err := url.Parse(c.Join); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-join %q: must be the http:// or https:// address of a running node", c.Join)
		}
		if c.AdminToken == "" {
			return fmt.Errorf("-join %q: needs -admin-token, the same on every node (nodes proxy operator requests to each other with it)", c.Join)
		}
	}
	nt, err := c.loadCluster()
	if err != nil {
		return err
	}
	if nt == nil && c.Join != "" && !c.InsecureCluster {
		return fmt.Errorf("-join %q: a node of a cluster of several nodes needs the cluster certificates, or anyone who reaches its Raft port or holds the admin token can rewrite the cluster's state: %s",
			c.Join, insecureAdvice)
	}
	if c.TickRate < 1 || c.TickRate > 128 {
		return fmt.Errorf("-tick-rate %d: must be 1..128", c.TickRate)
	}
	if _, err := ws.ParseOrigins(strings.Join(c.AllowedOrigins, ",")); err != nil {
		return fmt.Errorf("-allowed-origins %q: %v", strings.Join(c.AllowedOrigins, ","), err)
	}
	if strings.ContainsAny(c.AdminToken, " \t\r\n") {
		return errors.New("-admin-token: must not contain white space")
	}
	if c.AuthSecret != "" && len(c.AuthSecret) < 16 {
		return fmt.Errorf("-auth-secret: %d bytes, must be at least 16", len(c.AuthSecret))
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
			return fmt.Errorf("-%s %v: must be %v..%v", d.flag, d.v, d.min, d.max)
		}
	}
	limits := []struct {
		flag string
		v    int
	}{
		{"max-conns-per-ip", c.MaxConnsPerIP},
		{"max-upgrades-per-ip", c.MaxUpgradesPerIP},
		{"max-msg-rate", c.MaxMsgRate},
		{"max-players", c.MaxPlayers},
		{"max-rooms", c.MaxRooms},
		{"max-matches-per-ip", c.MaxMatchesPerIP},
	}
	for _, l := range limits {
		if l.v < 0 {
			return fmt.Errorf("-%s %d: must be 0 (no limit) or more", l.flag, l.v)
		}
	}
	if c.OwnerLease >= c.FailoverAfter {
		return fmt.Errorf("-owner-lease %v: must be shorter than -failover-after (%v)", c.OwnerLease, c.FailoverAfter)
	}
	if m := replication.MinLeaseMargin(c.OwnerLease); c.FailoverAfter-c.OwnerLease < m {
		return fmt.Errorf("-failover-after %v: must exceed -owner-lease (%v) by at least %v (clock rates, the tick in progress, scheduling)",
			c.FailoverAfter, c.OwnerLease, m)
	}
	if c.LogFormat != "console" && c.LogFormat != "json" {
		return fmt.Errorf("-log-format %q: must be console or json", c.LogFormat)
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
	scheme := "ws"
	if tls {
		scheme = "wss"
	}
	return scheme + "://" + reachable(httpAddr) + "/ws"
}

// apiURL is the base URL of this node's HTTP API (admin, heartbeats,
// probes): http[s]://<listen address>, with the host name in place of an
// unspecified address.
func apiURL(listen string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + reachable(listen)
}

// reachable is a listen address (host:port) as others dial it: the host
// name in place of an unspecified address.
func reachable(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	return net.JoinHostPort(host, port)
}

// NewLogger builds the logger the node uses when Config.Logger is nil:
// human-readable on w with LogFormat "console" (colours only on a
// terminal), one JSON object a line with "json"; at LogLevel, with this
// node's id under "node" and the time (RFC 3339 with nanoseconds) under
// zerolog's timestamp field. It leaves zerolog's globals alone, so that
// several nodes may run in one process.
func (c *Config) NewLogger(w io.Writer) zerolog.Logger {
	out := w
	if c.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !isTerminal(w)}
	}
	return zerolog.New(out).Level(c.LogLevel).Hook(nanoTimestamp{}).With().Str(keyNode, c.NodeID).Logger()
}

// nanoTimestamp stamps each event with the time, to the nanosecond, as
// With().Timestamp() would with zerolog.TimeFieldFormat = time.RFC3339Nano.
type nanoTimestamp struct{}

func (nanoTimestamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().Format(time.RFC3339Nano))
}

// isTerminal reports whether w is a character device (colours only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
