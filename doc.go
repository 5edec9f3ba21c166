// Package ticksync is a ticksync node as a library: the game's WebSocket
// endpoint (/ws), its rooms, health (/healthz), readiness (/readyz: ready
// while the node holds its cluster lease), the live nodes' client URLs
// (/v1/cluster, public, CORS for the origins /ws admits), the registered
// games and their compiled schemas (/games, /games/{name}/schema, public
// like /v1/cluster), Prometheus metrics (/metrics, admin only; without a
// token on Config.MetricsAddr; docs/METRICS.md lists them), the admin API
// (/admin/v1/, bearer Config.AdminToken) and /debug/pprof (admin only).
// Without an AdminToken the node keeps one in <DataDir>/admin-token. The
// ticksync command is this package plus flags and the arena demo; a game's
// own main embeds it the same way:
//
//	cfg := ticksync.DefaultConfig()
//	if err := cfg.ParseFlags(flag.CommandLine, os.Args[1:], os.Getenv); err != nil { … }
//	n, err := ticksync.New(cfg)
//	err = n.Games().RegisterSpec(game.Spec{Name: "mygame", New: mygame.New, Schema: mygameBFBS})
//	n.Handle("/", mygame.Page())       // optional: the game's own HTTP handlers
//	err = n.Start()
//	select { case <-ctx.Done(): case err = <-n.Fatal(): }
//	err = n.Shutdown(shutdownCtx)
//
// Every node is a member of a Raft cluster (package replication) that owns
// the match directory: matchmaking creates matches through Raft on the
// least-loaded live node, rooms checkpoint into Raft every
// CheckpointInterval, and when a node dies its matches are restored from
// their checkpoints on the others, where players resume in their seats.
// With the defaults the node is a one-node dev cluster on 127.0.0.1:7350
// (Raft on 127.0.0.1:7351, data in ./ticksync-data) that bootstraps itself
// and lets guests in; Bootstrap forms a cluster and Join adds this node to
// one. A Join that names this node's own API URL makes it the seed: it
// bootstraps an empty data dir and rejoins with Raft state, so that every
// node of a StatefulSet can share one Join (a seed that lost its data dir
// would form a second cluster: remove it and let it join instead; see
// DESIGN.md). A cluster of several nodes runs with cluster certificates
// (ClusterCA, ClusterCert, ClusterKey; `ticksync certs` makes a dev set):
// Raft and every call between nodes then go over mutual TLS on the Raft
// port, and a node is the node its certificate names (its NodeID defaults
// to that id). Without them a node stays a one-node cluster unless
// InsecureCluster is set (a trusted network). Every node of a cluster needs
// the same AdminToken (nodes proxy operator requests to each other with
// it); resume tokens are signed with a key derived from AuthSecret, else
// from AdminToken, so they verify on every node.
//
// Data flow: New allocates (registry of games, HTTP listener, metrics, the
// cluster glue of internal/cluster); Start builds the game.Manager over the
// registered games and the net/ws server, listens, starts Raft and the
// ownership goroutine (Acquired → Manager.Adopt from the latest
// checkpoint, Released → Manager.Release with the new owner's URL), joins
// (Join), serves the admin API, then lets players in. Shutdown hands the
// matches to other nodes with a final checkpoint each (their players are
// redirected), stops the rooms left with a final checkpoint, closes
// sessions with 1001 and stops Raft. See DESIGN.md.
package ticksync
