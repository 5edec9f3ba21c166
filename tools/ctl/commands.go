package ctl

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/ticksync/ticksync/internal/buildinfo"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema/token"
)

// commands is every ticksyncctl command, in the order -h lists them.
var commands = []*command{
	{name: "status", summary: "the node's Raft state, leader, lease and counters", max: 0, api: true, run: runStatus},
	{name: "nodes", summary: "every node: state, leader, voter, load, addresses", max: 0, api: true, run: runNodes},
	{name: "matches", summary: "every match: game, owner, status, players, tick", max: 0, api: true, run: runMatches},
	{name: "match", args: "MATCH", summary: "one match with its players (name, seat, connection, RTT, last input)", min: 1, max: 1, api: true, run: runMatch},
	{name: "create-match", args: "", summary: "create a match (-game, -node, -id, -seed, -key)", max: 0, api: true, flags: createFlags, run: runCreate},
	{name: "end-match", args: "MATCH", summary: "end a match; its players are told it ended", min: 1, max: 1, api: true, run: runEnd},
	{name: "drain", args: "[NODE]", summary: "hand a node's matches over and give it no new ones (no NODE: the node at -addr)", max: 1, api: true, run: runDrain},
	{name: "undrain", args: "NODE", summary: "let a drained node take matches again", min: 1, max: 1, api: true, run: runUndrain},
	{name: "move", args: "MATCH NODE", summary: "hand a match over to a node, with no game time lost", min: 2, max: 2, api: true, run: runMove},
	{name: "kick", args: "MATCH PLAYER", summary: "remove a player from a match (its client is told, and stops)", min: 2, max: 2, api: true, run: runKick},
	{name: "remove-node", args: "NODE", summary: "remove a node from Raft (its matches move after -failover-after)", min: 1, max: 1, api: true, run: runRemove},
	{name: "transfer-leader", args: "[NODE]", summary: "hand Raft leadership to NODE, or to the most up-to-date voter", max: 1, api: true, run: runTransfer},
	{name: "token", args: "PLAYER", summary: "mint a player token (-auth-secret or TICKSYNC_AUTH_SECRET, -ttl)", min: 1, max: 1, flags: tokenFlags, run: runToken},
	{name: "watch", args: "MATCH", summary: "a live view of a match, refreshed every -interval until Ctrl-C or -count", min: 1, max: 1, api: true, flags: watchFlags, run: runWatch},
	{name: "version", summary: "ticksyncctl's build", max: 0, run: runVersion},
}

func runStatus(ctx context.Context, r *runner, _ []string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	st, err := r.client.Status(ctx)
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, st)
	}
	return writeStatus(r.out, st)
}

func runNodes(ctx context.Context, r *runner, _ []string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	nodes, err := r.client.Nodes(ctx)
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, nodes)
	}
	return writeNodes(r.out, nodes)
}

func runMatches(ctx context.Context, r *runner, _ []string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	ms, err := r.client.Matches(ctx)
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, ms)
	}
	return writeMatches(r.out, ms)
}

func runMatch(ctx context.Context, r *runner, args []string) error {
	r.subject.match = args[0]
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	d, err := r.client.Match(ctx, args[0])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, d)
	}
	return writeMatch(r.out, d)
}

func createFlags(fs *flag.FlagSet, r *runner) {
	fs.StringVar(&r.game, "game", "", "the game (default: the only one the node registered)")
	fs.StringVar(&r.node, "node", "", "the node to run it (default: the least-loaded live node)")
	fs.StringVar(&r.matchID, "id", "", "the match id (default: a random one)")
	fs.Uint64Var(&r.seed, "seed", 0, "the game's random seed (default: from the Raft index)")
	fs.StringVar(&r.key, "key", "", "the matchmaking key, as ticksyncctl match shows it (mode=1 map=\"dust\"): matchmaking seats only players whose join payload has it (default: none)")
}

func runCreate(ctx context.Context, r *runner, _ []string) error {
	r.subject.node = r.node
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	m, err := r.client.CreateMatch(ctx, admin.CreateMatchRequest{ID: r.matchID, Game: r.game, Node: r.node, Seed: r.seed, Key: r.key})
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, m)
	}
	fmt.Fprintf(r.out, "created match %s (%s) on %s\n", m.ID, m.Game, m.Owner)
	return nil
}

func runEnd(ctx context.Context, r *runner, args []string) error {
	r.subject.match = args[0]
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	res, err := r.client.EndMatch(ctx, args[0])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, res)
	}
	fmt.Fprintf(r.out, "ended match %s (%s on %s): its %d players are told it ended\n", res.Ended, res.Game, res.Owner, res.Players)
	return nil
}

func runDrain(ctx context.Context, r *runner, args []string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	// No NODE: the node -addr names, as a preStop hook (which cannot
	// expand the pod's name into its arguments) needs.
	if len(args) == 0 {
		st, err := r.client.Status(ctx)
		if err != nil {
			return err
		}
		args = []string{st.ID}
	}
	r.subject.node = args[0]
	nd, err := r.client.Drain(ctx, args[0])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, nd)
	}
	fmt.Fprintf(r.out, "%s is %s: it takes no new matches and hands its matches over (%d left; ticksyncctl nodes shows the load)\n", nd.ID, nd.State, nd.Load)
	return nil
}

func runUndrain(ctx context.Context, r *runner, args []string) error {
	r.subject.node = args[0]
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	nd, err := r.client.Undrain(ctx, args[0])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, nd)
	}
	fmt.Fprintf(r.out, "%s is %s: it takes matches again\n", nd.ID, nd.State)
	return nil
}

func runMove(ctx context.Context, r *runner, args []string) error {
	r.subject.match, r.subject.node = args[0], args[1]
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	m, err := r.client.Move(ctx, args[0], args[1])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, m)
	}
	fmt.Fprintf(r.out, "moved match %s to %s at tick %d (epoch %d)\n", m.ID, m.Owner, m.CheckpointTick, m.Epoch)
	return nil
}

func runKick(ctx context.Context, r *runner, args []string) error {
	r.subject.match = args[0]
	player, err := strconv.ParseUint(args[1], 10, 32)
	if err != nil || player == 0 {
		return usagef(r.cmd, "player %q: must be a player id (1..4294967295; ticksyncctl match %s lists them)", args[1], args[0])
	}
	r.subject.player = uint32(player)
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	d, err := r.client.Kick(ctx, args[0], uint32(player))
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, d)
	}
	fmt.Fprintf(r.out, "kicked player %d from match %s\n", player, args[0])
	if d.Live != nil && len(d.Live.Players) > 0 {
		fmt.Fprintln(r.out)
		return writePlayers(r.out, d.Live.Players)
	}
	return nil
}

func runRemove(ctx context.Context, r *runner, args []string) error {
	r.subject.node = args[0]
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	res, err := r.client.RemoveNode(ctx, args[0])
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, res)
	}
	fmt.Fprintf(r.out, "removed %s from Raft: %s\n", res.Removed, res.Note)
	return nil
}

func runTransfer(ctx context.Context, r *runner, args []string) error {
	node := ""
	if len(args) == 1 {
		node = args[0]
	}
	r.subject.node = node
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	res, err := r.client.TransferLeader(ctx, node)
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, res)
	}
	fmt.Fprintf(r.out, "%s is the leader now (%d ms)\n", res.Leader, res.ElapsedMS)
	return nil
}

func tokenFlags(fs *flag.FlagSet, r *runner) {
	fs.StringVar(&r.authSecret, "auth-secret", r.env.Getenv("TICKSYNC_AUTH_SECRET"), "the nodes' -auth-secret (env TICKSYNC_AUTH_SECRET)")
	fs.DurationVar(&r.ttl, "ttl", 24*time.Hour, "how long the token is valid")
}

// tokenJSON is token's -o json answer.
type tokenJSON struct {
	Player  uint32    `json:"player"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// runToken mints a player token locally: it needs the nodes' secret, not
// a node.
func runToken(_ context.Context, r *runner, args []string) error {
	player, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil || player == 0 {
		return usagef(r.cmd, "player %q: must be a player id, 1..4294967295", args[0])
	}
	if r.authSecret == "" {
		return usagef(r.cmd, "no secret: pass -auth-secret or set TICKSYNC_AUTH_SECRET (the nodes' -auth-secret)")
	}
	if r.ttl <= 0 {
		return usagef(r.cmd, "-ttl %v: must be > 0", r.ttl)
	}
	now := r.env.Now()
	tok, err := token.MintPlayer([]byte(r.authSecret), uint32(player), r.ttl, now)
	if err != nil {
		return err
	}
	if r.json() {
		return writeJSON(r.out, tokenJSON{Player: uint32(player), Token: tok, Expires: now.Add(r.ttl).UTC().Truncate(time.Second)})
	}
	_, err = fmt.Fprintln(r.out, tok)
	return err
}

// versionJSON is version's -o json answer.
type versionJSON struct {
	Program string `json:"program"`
	Version string `json:"version"`
	Go      string `json:"go"`
}

func runVersion(_ context.Context, r *runner, _ []string) error {
	if r.json() {
		return writeJSON(r.out, versionJSON{Program: "ticksyncctl", Version: buildinfo.Version(), Go: runtime.Version()})
	}
	_, err := fmt.Fprintln(r.out, buildinfo.String("ticksyncctl"))
	return err
}
