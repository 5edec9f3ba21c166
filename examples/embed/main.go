// Command embed is a game server of its own built on the ticksync node: a
// toy game ("dots", dots.go) with its own schema (dots.fbs, compiled into
// dots.bfbs and the accessors in dotsfb/ by go generate) written against
// the public game API, a page of its own at "/", and the node's flags (the
// same as the ticksync command's, each also a TICKSYNC_<NAME> variable). It
// runs alone or as a cluster, like ticksync:
//
//	go run ./examples/embed                  # a one-node dev cluster on 127.0.0.1:7350
//	go run ./cmd/ticksync certs -out ./certs -nodes n1,n2
//	go run ./examples/embed -cluster-ca ./certs/ca.crt -cluster-cert ./certs/n1.crt -cluster-key ./certs/n1.key -bootstrap -admin-token T -http-addr 127.0.0.1:7350 -raft-addr 127.0.0.1:7351 -data-dir ./data/n1
//	go run ./examples/embed -cluster-ca ./certs/ca.crt -cluster-cert ./certs/n2.crt -cluster-key ./certs/n2.key -join http://127.0.0.1:7350 -admin-token T -http-addr 127.0.0.1:7360 -raft-addr 127.0.0.1:7361 -data-dir ./data/n2
//
// Everything here is what any program embedding the node writes: flags →
// Config → New → register the game with its schema (RegisterSpec), mount
// the page → Start → wait for a signal or a fatal error → Shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ticksync/ticksync"
)

func main() {
	cfg := ticksync.DefaultConfig()
	if err := cfg.ParseFlags(flag.CommandLine, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "embed: %v\n", err)
		os.Exit(2)
	}
	n, err := ticksync.New(cfg)
	if err == nil {
		err = n.Games().RegisterSpec(Spec())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "embed: %v\n", err)
		os.Exit(1)
	}
	n.Handle("/", http.HandlerFunc(page))

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

// page is the game's own page: where to connect.
func page(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "dots: a toy game on ticksync. Connect a ticksync client to ws://%s/ws\n", r.Host)
}
