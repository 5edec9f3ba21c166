package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ticksync/ticksync/replication/admin"
)

// watch: a live view of one match, one frame per -interval. A frame is the
// match as its owner sees it (GET /admin/v1/matches/{id}); the tick rate
// actually achieved comes from the ticks of two frames in a row. In a
// terminal each frame replaces the last; elsewhere (a pipe, a test) frames
// follow each other, a blank line apart; -o json writes one JSON object per
// frame and line.

func watchFlags(fs *flag.FlagSet, r *runner) {
	fs.DurationVar(&r.interval, "interval", time.Second, "time between two refreshes")
	fs.IntVar(&r.count, "count", 0, "stop after this many refreshes (0: until Ctrl-C)")
}

// watchFrame is one frame in -o json.
type watchFrame struct {
	At     time.Time         `json:"at"`
	TickHz *float64          `json:"tick_hz"` // measured between this frame and the last; null on the first
	Match  admin.MatchDetail `json:"match"`
}

// sample is what the next frame needs of the last one.
type sample struct {
	at   time.Time
	node string
	tick uint32
}

func runWatch(ctx context.Context, r *runner, args []string) error {
	if r.interval <= 0 {
		return usagef(r.cmd, "-interval %v: must be > 0", r.interval)
	}
	if r.count < 0 {
		return usagef(r.cmd, "-count %d: must be >= 0", r.count)
	}
	id := args[0]
	r.subject.match = id
	clear := !r.json() && isTerminal(r.out)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	var prev *sample
	for i := 0; r.count == 0 || i < r.count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		rctx, cancel := r.ctx(ctx)
		d, err := r.client.Match(rctx, id)
		cancel()
		if ctx.Err() != nil {
			return nil // Ctrl-C
		}
		if err != nil {
			if lasting(err) {
				return err
			}
			fmt.Fprintf(r.env.Stderr, "ticksyncctl: %s (retrying every %v)\n", r.explain(err), r.interval)
			continue
		}
		now := r.env.Now()
		f := watchFrame{At: now, Match: d}
		if l := d.Live; l != nil {
			if prev != nil && prev.node == l.Node && l.Tick >= prev.tick && now.After(prev.at) {
				hz := float64(l.Tick-prev.tick) / now.Sub(prev.at).Seconds()
				f.TickHz = &hz
			}
			prev = &sample{at: now, node: l.Node, tick: l.Tick}
		} else {
			prev = nil
		}
		if err := r.writeFrame(f, i, clear); err != nil {
			return err
		}
	}
	return nil
}

// lasting reports whether a watch cannot go on: the match is gone, or the
// token is refused. Anything else (a node restarting, a leader election) is
// retried at the next refresh.
func lasting(err error) bool {
	var ae *admin.Error
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusNotFound || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusBadRequest
}

func (r *runner) writeFrame(f watchFrame, i int, clear bool) error {
	if r.json() {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(r.out, "%s\n", b)
		return err
	}
	switch {
	case clear:
		fmt.Fprint(r.out, "\x1b[H\x1b[2J")
	case i > 0:
		fmt.Fprintln(r.out)
	}
	return writeWatchFrame(r.out, f, r.interval)
}

// writeWatchFrame writes one frame of the live view as text.
func writeWatchFrame(w io.Writer, f watchFrame, every time.Duration) error {
	d := f.Match
	fmt.Fprintf(w, "match %s (%s) at %s, every %v; Ctrl-C stops\n\n", d.ID, d.Game, f.At.Format(time.TimeOnly), every)
	l := d.Live
	if l == nil {
		return pairs(w, "OWNER", d.Owner, "STATUS", d.Status.String(), "PLAYERS", strconv.Itoa(d.Players), "LIVE", "unknown: "+d.LiveError)
	}
	hz := "measured from the next frame"
	if f.TickHz != nil {
		hz = strconv.FormatFloat(*f.TickHz, 'f', 1, 64) + " Hz"
	}
	err := pairs(w,
		"OWNER", l.Node+", "+liveState(l),
		"TICK", fmt.Sprintf("%d, %s (of %d Hz)", l.Tick, hz, l.TickRate),
		"TICK TIME", fmt.Sprintf("p99 %s, max %s", msf(l.TickP99MS), msf(l.TickMaxMS)),
		"SENT", byteRate(l.BytesPerSec),
		"PLAYERS", fmt.Sprintf("%d of %d seats, %d connected", len(l.Players), l.Seats, l.Connected),
	)
	if err != nil || len(l.Players) == 0 {
		return err
	}
	fmt.Fprintln(w)
	return writePlayers(w, l.Players)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
