// Command cards serves the cards game (package cards) on an embedded
// ticksync node, with its browser page at "/". From this directory:
//
//	go run .                 # a one-node dev cluster: http://127.0.0.1:7350/
//	go run . -help           # the node's flags (those of the ticksync command)
//
// Everything here is what a game's own main writes: flags → Config → New →
// register the game with its compiled schema, mount the page → Start →
// wait for a signal or a fatal error → Shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/examples/cards/cards"
	"github.com/ticksync/ticksync/game"
)

// spec registers the game: its name, its factory, its compiled schema,
// from which the node verifies the players' bytes and encodes the state,
// and its table size: matchmaking seats four players per match.
var spec = game.Spec{
	Name:   cards.Name,
	New:    func(seed int64) game.Game { return cards.New(seed) },
	Schema: cards.BFBS(),
	Seats:  cards.MaxPlayers,
}

func main() {
	cfg := ticksync.DefaultConfig()
	if err := cfg.ParseFlags(flag.CommandLine, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "cards: %v\n", err)
		os.Exit(2)
	}
	n, err := ticksync.New(cfg)
	if err == nil {
		err = n.Games().RegisterSpec(spec)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cards: %v\n", err)
		os.Exit(1)
	}
	n.Handle("/", page())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := n.Logger()
	code := 0
	if err := n.Start(); err != nil {
		log.Error().Err(err).Msg("cannot start")
		code = 1
	} else {
		select {
		case <-ctx.Done():
		case err := <-n.Fatal():
			log.Error().Err(err).Msg("cannot go on")
			code = 1
		}
	}
	stop() // a second signal kills the process
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		code = 1
	}
	os.Exit(code)
}
