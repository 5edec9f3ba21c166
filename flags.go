package ticksync

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/net/ws"
)

// A new flag is one Config field, its default in DefaultConfig, one line
// in BindFlags and its check in Validate; the ticksync command and every
// program that embeds the node get it, and its TICKSYNC_ variable, from
// BindFlags and ApplyEnv.

// BindFlags defines the ticksync command's flags on fs, each bound to its
// field of c with c's current value as the default (so bind a
// DefaultConfig, or a Config with your own defaults). Parsing fs fills c.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "unique, stable id of this node (default: the id in -cluster-cert, else the host name)")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP and WebSocket listener (host:port)")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "Raft TCP transport (host:port)")
	fs.StringVar(&c.RaftAdvertise, "raft-advertise", c.RaftAdvertise, "host:port other nodes dial for Raft (default -raft-addr; set it behind NAT, a proxy or 0.0.0.0)")
	fs.StringVar(&c.APIAdvertise, "api-advertise", c.APIAdvertise, "http[s]:// URL of this node's admin API, as other nodes list it; without cluster certificates also where they send joins, heartbeats, forwarding (default from -http-addr)")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "URL clients use to reach this node's /ws (default ws[s]://<http-addr>/ws)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "Raft log, stable store and snapshots")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "form a new cluster")
	fs.StringVar(&c.Join, "join", c.Join, "admin URL of a running node to join; this node's own API URL makes it the seed (bootstraps an empty data dir, else rejoins)")
	fs.IntVar(&c.TickRate, "tick-rate", c.TickRate, "ticks per second, 1..128")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (serve https/wss; needs -tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS key file")
	fs.Var(&originsFlag{&c.AllowedOrigins}, "allowed-origins", "comma-separated Origin allow-list for /ws (default: own host and localhost)")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bearer token for /admin/v1/..., /debug/pprof and /metrics, shared by the cluster's nodes (empty: the one in <data-dir>/admin-token, generated on the first start)")
	fs.StringVar(&c.ClusterCA, "cluster-ca", c.ClusterCA, "cluster CA certificate (PEM): with -cluster-cert and -cluster-key, Raft and node-to-node calls run over mutual TLS (ticksync certs makes a dev set)")
	fs.StringVar(&c.ClusterCert, "cluster-cert", c.ClusterCert, "this node's cluster certificate (PEM), issued by -cluster-ca with the node's id")
	fs.StringVar(&c.ClusterKey, "cluster-key", c.ClusterKey, "the key of -cluster-cert (PEM)")
	fs.BoolVar(&c.InsecureCluster, "insecure-cluster", c.InsecureCluster, "let this node join or form a cluster of several nodes without cluster certificates (trusted networks only)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics without a token on this separate listener (host:port, plain HTTP); empty: /metrics only on -http-addr, behind -admin-token")
	fs.StringVar(&c.AuthSecret, "auth-secret", c.AuthSecret, "HS256 secret for player tokens, at least 16 bytes; empty lets guests in")
	fs.DurationVar(&c.FailoverAfter, "failover-after", c.FailoverAfter, "a node silent this long is declared dead")
	fs.DurationVar(&c.OwnerLease, "owner-lease", c.OwnerLease, "an owner out of touch with a leader this long pauses its rooms")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", c.CheckpointInterval, "how often each room is checkpointed")
	fs.DurationVar(&c.ResumeGrace, "resume-grace", c.ResumeGrace, "how long a disconnected player's seat is kept")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "open connections from one source address (0: no limit)")
	fs.IntVar(&c.MaxUpgradesPerIP, "max-upgrades-per-ip", c.MaxUpgradesPerIP, "WebSocket upgrades from one source address per second (0: no limit)")
	fs.IntVar(&c.MaxMsgRate, "max-msg-rate", c.MaxMsgRate, "messages one session may send per second; over it the session is closed with 4012 (0: no limit)")
	fs.IntVar(&c.MaxPlayers, "max-players", c.MaxPlayers, "players seated on this node (0: no limit)")
	fs.IntVar(&c.MaxRooms, "max-rooms", c.MaxRooms, "matches running on this node (0: no limit)")
	fs.IntVar(&c.MaxMatchesPerIP, "max-matches-per-ip", c.MaxMatchesPerIP, "matches guests from one source address may create per minute (0: no limit)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "console or json")
	fs.Var(&levelFlag{&c.LogLevel}, "log-level", "trace, debug, info, warn or error")
}

// EnvName is the environment variable of a flag: "http-addr" →
// TICKSYNC_HTTP_ADDR.
func EnvName(flagName string) string {
	return "TICKSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs whose variable (EnvName) getenv reports
// non-empty: call it after BindFlags and before fs.Parse, so that a flag
// on the command line wins over its variable. It covers all of fs's flags,
// a program's own ones too. The error names the flag and the variable.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		v := getenv(name)
		if v == "" || err != nil {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("-%s: %s=%q: %v", f.Name, name, v, e)
		}
	})
	return err
}

// ParseFlags is what the ticksync command does with its arguments: it
// binds c's flags onto fs (BindFlags), applies the TICKSYNC_ variables
// from getenv (ApplyEnv), parses args, refuses positional arguments, and
// validates c, and fills in an empty NodeID (the cluster certificate's id,
// else the host name). Every error but flag.ErrHelp (-h) is a usage error
// whose message names the flag.
func (c *Config) ParseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	c.BindFlags(fs)
	if err := ApplyEnv(fs, getenv); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return err
	}
	nt, err := c.loadCluster()
	if err != nil {
		return err
	}
	c.fillNodeID(nt)
	return nil
}

// originsFlag is -allowed-origins: a comma-separated list, checked as it
// is parsed.
type originsFlag struct{ p *[]string }

func (f *originsFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f *originsFlag) Set(s string) error {
	list, err := ws.ParseOrigins(s)
	if err != nil {
		return err
	}
	*f.p = list
	return nil
}

// levelFlag is -log-level, any case.
type levelFlag struct{ p *zerolog.Level }

func (f *levelFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f *levelFlag) Set(s string) error {
	l, err := zerolog.ParseLevel(strings.ToLower(s))
	if err != nil || s == "" {
		return errors.New("must be trace, debug, info, warn or error")
	}
	*f.p = l
	return nil
}
