// Command ticksyncctl is the operator's tool for a ticksync cluster: status,
// nodes, matches and their players, create and end matches, drain, move,
// kick, remove nodes, transfer leadership, mint player tokens, and a live
// view of a match (watch). main only wires the process to tools/ctl: the
// arguments, the environment, stdout and stderr, and Ctrl-C (SIGINT,
// SIGTERM), which ends a watch. Exit status: 0 done, 1 failed, 2 bad
// command line.
//
//	ticksyncctl -addr http://127.0.0.1:7350 -token s3cret matches
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ticksync/ticksync/tools/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx, ctl.Env{Args: os.Args[1:], Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
