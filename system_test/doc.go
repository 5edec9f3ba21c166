// Package systemtest runs real ticksync processes on loopback and checks
// what ticksync promises of a cluster: a match survives kill -9 of its node
// (kill_test.go), a partitioned owner stops before another node takes over
// (partition_test.go), a paused (SIGSTOP) owner does not run its match again
// when it thaws (pause_test.go), the players of a frozen (SIGSTOP) owner
// notice within net/client's stall timeout and are back on the new owner
// well before their 15 s read timeout (freeze_test.go), a restarted node rejoins and takes new
// matches (restart_test.go), nodes played by real ticksync-bots keep their
// memory and goroutines flat and lose no bot (soak_test.go), matches and
// players survive cycles of kill -9, restarts, partitions and slow links
// (chaos_test.go), and players who
// know only one address (nginx with deploy/nginx/nginx.conf in front of the
// nodes) follow a planned move and a kill -9 of the owner through it
// (proxy_test.go; needs nginx, which CI installs: without it the test fails
// when CI is set and is skipped elsewhere). Everything is in _test.go files;
// this file only carries the package documentation.
//
// Data flow of a test:
//
//	go build ./cmd/ticksync (once per test binary, TestMain)
//	   │
//	   ▼
//	ticksync certs -out DIR -nodes n1,n2,n3 (the binary itself)
//	   │
//	   ▼
//	cluster: 3 processes, node i on its own loopback IP 127.0.0.1i, with
//	-cluster-ca/-cluster-cert/-cluster-key from DIR
//	   -http-addr  127.0.0.1i:H    (real listener: admin API, /ws)
//	   -raft-addr  127.0.0.1i:R    (real cluster port: Raft and node-to-node
//	                                HTTP over mutual TLS; dials leave from 127.0.0.1i)
//	   -advertise  ws://127.0.0.1i:HP/ws  ─ HTTP fault proxy ─▶ H
//	   -api-advertise http://127.0.0.1i:HP  (the same proxy; listed, joins start there)
//	   -raft-advertise 127.0.0.1i:RP      ─ Raft fault proxy ─▶ R (TLS passes through)
//	   │
//	   ▼
//	players (net/client, from 127.0.0.1) join matches through the advertised
//	URLs, send an input every tick and record every Welcome and snapshot
//	(node, tick, server time, receive time); the test reads the admin API
//	of each node directly (H) and judges from those records.
//
// Partitions: every link between nodes passes a fault proxy
// (internal/faultproxy) in front of the node being called, and every node
// dials from its own IP (replication binds Raft dials, and its node-to-node
// HTTP on loopback, to the Raft listen IP), so the proxy knows the caller.
// The node-to-node calls (heartbeats, forwarding, owner probes) go to the
// cluster port, so they pass the Raft proxy with Raft itself.
// Isolating node A: every Raft proxy and every other node's HTTP proxy
// refuses links from A's IP, A's Raft proxy refuses everything, and A's
// HTTP proxy refuses the other nodes' IPs. Players come from 127.0.0.1,
// which no proxy ever cuts: A's players stay connected to A, as players on
// A's side of a real partition would, and the test sees exactly when A
// stops sending them snapshots.
//
// History: each snapshot carries the server's wall-clock time; all
// processes share one clock, so "node N ticked match M at time T" is known
// to the millisecond. The checker (history_test.go) turns those
// observations into intervals per node and match and fails if two nodes'
// intervals of the same match overlap.
//
// Run: go test ./system_test/ (about a minute on 2 cores; under -race the
// nodes are race-built too). Measurements, logged as Markdown tables:
// -takeover.kills=N or TICKSYNC_SOAK=1 (TestTakeoverMeasure: N kills per
// owner kind), TICKSYNC_SOAK=1 (TestCheckpointLoad: -load.rooms,
// -load.duration). -system.logdir DIR keeps the node logs.
//
// Soak (TestSoak): ticksync-bots (built once, like the nodes) play arena
// through matchmaking, 8 bots a room, dialling all three nodes' real
// listeners from 127.0.0.1 (nodes that have per-IP admission limits get
// them lifted). The test reads each node's /metrics every second (process
// RSS, Go heap in use, goroutines, sessions, matches) and logs the curve
// as a Markdown table. It fails when, per node, the mean of the last
// quarter of the steady window (which opens when every bot holds a
// session) exceeds the mean of its second quarter by more than 15% or
// 16 MiB (RSS; 64 MiB for race-built nodes, whose shadow memory grows on
// its own), 15% or 8 MiB (heap in use), or 20 goroutines; when a node's
// sessions change during the window (players moved: a failover, so the
// quarters carry different loads); when a bot is lost (not seated, or not
// seated any more when the bots' window closes); or when the bots' error
// rate crosses 1%. The plain run is short (48 bots, a 20 s window); the
// environment sizes it, and .ci/soak runs 300 bots for 2m:
//
//	TICKSYNC_SOAK_DURATION  the steady window (default 20s)
//	TICKSYNC_SOAK_BOTS      bots over the three nodes (default 48)
//	TICKSYNC_SOAK_RAMP      first dials spread over this (default bots × 20 ms, at least 2s)
//	TICKSYNC_SOAK_INTERVAL  /metrics read every (default 1s)
//
//	TICKSYNC_SOAK_DURATION=1h TICKSYNC_SOAK_BOTS=1000 go test -run TestSoak -count=1 -timeout 90m -v ./system_test/
//
// Chaos (TestChaos): one match per node, four net/client players each
// (their read timeout 3 s, so that players of a node that stops ticking
// look for the new owner by themselves), then cycles of one fault at a
// time on a random node (the first kills the leader, the second cuts off
// a match's owner): kill -9 and a restart from the same data dir; a
// partition (links refused, or silently dropped) held until the majority
// has moved the node's matches, then healed; or every link of the node
// 80 ms slower each way for a few seconds (internal/faultproxy's delays).
// The game time lost is counted against the checkpoint the new owner
// restored: for a kill at most a checkpoint interval, for a partition
// also what the cut-off owner ran until its lease ended (its checkpoints
// no longer committed). After every cycle each match runs
// on a live node with all its players back in their seats; at the end no
// match is lost, the history checker finds no two nodes ticking one match
// at once, and every player is back. Takeover times (fault → first
// snapshot from the new owner, per player) and the game time lost per
// moved match are logged as percentiles, per kind of fault; nothing is
// judged on timing. A plain run does 2 cycles (under a minute); the
// environment sizes it:
//
//	TICKSYNC_CHAOS_CYCLES  fault cycles (default 2; 2–10 s each on 2 idle cores)
//	TICKSYNC_CHAOS_SEED    seed of the random choices (default: the clock; logged, to replay a run)
//	TICKSYNC_CHAOS_BUDGET  start no cycle after this long (default: none); the counts cover the cycles run
//
//	TICKSYNC_CHAOS_CYCLES=100 TICKSYNC_CHAOS_BUDGET=40m go test -run TestChaos -count=1 -timeout 60m -v ./system_test/
package systemtest
