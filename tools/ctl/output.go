package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
)

// The output of the commands: tables for people, JSON (the admin API's own
// answer, indented) for scripts. Every writer here writes to w and returns
// w's error.

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows of cells aligned in columns; the first row is the
// header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// pairs writes "KEY  value" lines, aligned.
func pairs(w io.Writer, kv ...string) error {
	var rows [][]string
	for i := 0; i+1 < len(kv); i += 2 {
		rows = append(rows, []string{kv[i], kv[i+1]})
	}
	return table(w, rows)
}

func yes(b bool, s string) string {
	if b {
		return s
	}
	return "-"
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// msf formats milliseconds with a precision that suits their size.
func msf(v float64) string {
	switch {
	case v < 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
}

// byteRate formats a rate in bytes per second.
func byteRate(v float64) string {
	switch {
	case v >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB/s"
	case v >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'f', 1, 64) + " KiB/s"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " B/s"
}

// writeStatus writes GET status as KEY value lines.
func writeStatus(w io.Writer, st replication.Status) error {
	contact := "never (no leader heard from)"
	switch {
	case st.Leader != "" && st.Leader == st.ID:
		contact = "- (this node leads)"
	case st.LastContactMS != nil:
		contact = fmt.Sprintf("%d ms ago", *st.LastContactMS)
	}
	lease := "lapsed: its rooms are paused"
	if st.LeaseValid {
		lease = fmt.Sprintf("valid (%d ms left)", st.LeaseRemainingMS)
	}
	leader := st.Leader
	if leader == "" {
		leader = "none known"
	}
	cp := st.Checkpoints
	err := pairs(w,
		"NODE", st.ID,
		"RAFT STATE", st.RaftState,
		"LEADER", leader,
		"TERM", u64(st.Term),
		"APPLIED INDEX", u64(st.AppliedIndex),
		"COMMIT INDEX", u64(st.CommitIndex),
		"LAST CONTACT", contact,
		"LEASE", lease,
		"NODES", strconv.Itoa(st.Nodes),
		"MATCHES", fmt.Sprintf("%d (%d owned here)", st.Matches, st.Owned),
		"CHECKPOINTS", fmt.Sprintf("%d batches, %d items, %d rejected, %d failures, %d bytes out", cp.Batches, cp.Items, cp.Rejected, cp.Failures, cp.BytesOut),
	)
	if err != nil || len(st.ContactAgeMS) == 0 {
		return err
	}
	ids := make([]string, 0, len(st.ContactAgeMS))
	for id := range st.ContactAgeMS {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var ages []string
	for _, id := range ids {
		ages = append(ages, fmt.Sprintf("%s %d ms", id, st.ContactAgeMS[id]))
	}
	return pairs(w, "CONTACT AGES", strings.Join(ages, ", "))
}

var nodeHeader = []string{"ID", "STATE", "LEADER", "VOTER", "LOAD", "ADVERTISE", "API"}

func nodeCells(nd admin.Node) []string {
	return []string{nd.ID, nd.State.String(), yes(nd.Leader, "leader"), yes(nd.Voter, "voter"), strconv.Itoa(nd.Load), nd.Advertise, nd.API}
}

// writeNodes writes GET nodes as a table.
func writeNodes(w io.Writer, nodes []admin.Node) error {
	rows := [][]string{nodeHeader}
	for _, nd := range nodes {
		rows = append(rows, nodeCells(nd))
	}
	return table(w, rows)
}

var matchHeader = []string{"ID", "GAME", "OWNER", "STATUS", "PLAYERS", "TICK", "EPOCH", "CHECKPOINT"}

func matchCells(m admin.Match) []string {
	tick := "-"
	if m.Tick != nil {
		tick = strconv.FormatUint(uint64(*m.Tick), 10)
	}
	owner := m.Owner
	if owner == "" {
		owner = "-"
	}
	ckpt := "-"
	if m.CheckpointBytes > 0 || m.CheckpointTick > 0 {
		ckpt = fmt.Sprintf("tick %d, %d B", m.CheckpointTick, m.CheckpointBytes)
	}
	return []string{m.ID, m.Game, owner, m.Status.String(), strconv.Itoa(m.Players), tick, u64(m.Epoch), ckpt}
}

// writeMatches writes GET matches as a table (TICK only where the node
// that answered runs the match).
func writeMatches(w io.Writer, ms []admin.Match) error {
	rows := [][]string{matchHeader}
	for _, m := range ms {
		rows = append(rows, matchCells(m))
	}
	return table(w, rows)
}

// writeMatch writes one match: its row, its owner's live view, and its
// players.
func writeMatch(w io.Writer, d admin.MatchDetail) error {
	owner := d.Owner
	if owner == "" {
		owner = "none (orphaned: failover places it)"
	}
	kv := []string{
		"MATCH", d.ID,
		"GAME", d.Game,
		"OWNER", owner,
		"STATUS", d.Status.String(),
		"EPOCH", u64(d.Epoch),
		"CHECKPOINT", fmt.Sprintf("tick %d (epoch %d, %d B)", d.CheckpointTick, d.CheckpointEpoch, d.CheckpointBytes),
	}
	if d.Key != "" {
		kv = append(kv, "KEY", d.Key)
	}
	l := d.Live
	if l == nil {
		kv = append(kv, "PLAYERS", strconv.Itoa(d.Players), "LIVE", "unknown: "+d.LiveError)
		return pairs(w, kv...)
	}
	kv = append(kv,
		"STATE", liveState(l),
		"TICK", fmt.Sprintf("%d (%d Hz)", l.Tick, l.TickRate),
		"TICK TIME", fmt.Sprintf("p99 %s, max %s (last 256 ticks)", msf(l.TickP99MS), msf(l.TickMaxMS)),
		"SENT", fmt.Sprintf("%s of snapshots, %d B in all", byteRate(l.BytesPerSec), l.SnapshotBytes),
		"PLAYERS", fmt.Sprintf("%d of %d seats, %d connected", len(l.Players), l.Seats, l.Connected),
	)
	if err := pairs(w, kv...); err != nil {
		return err
	}
	if len(l.Players) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return writePlayers(w, l.Players)
}

// liveState says whether a running match ticks, in words.
func liveState(l *admin.Live) string {
	switch {
	case l.Frozen:
		return "frozen for a hand-over"
	case l.Paused:
		return "paused: the owner's lease lapsed"
	}
	return "running"
}

// writePlayers writes a match's players as a table.
func writePlayers(w io.Writer, ps []admin.Player) error {
	rows := [][]string{{"PLAYER", "NAME", "ENTITY", "STATE", "RTT", "LAST INPUT"}}
	for _, p := range ps {
		name := p.Name
		if name == "" {
			name = "-"
		}
		state := "connected"
		if !p.Connected {
			state = "waiting to resume"
		}
		rtt, last := "-", "-"
		if p.RTTMS != nil {
			rtt = msf(*p.RTTMS)
		}
		if p.LastInputMS != nil {
			last = fmt.Sprintf("%d ms ago", *p.LastInputMS)
		}
		rows = append(rows, []string{strconv.FormatUint(uint64(p.ID), 10), name, strconv.FormatUint(uint64(p.Entity), 10), state, rtt, last})
	}
	return table(w, rows)
}
