package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ticksync/ticksync/tools/floor"
)

// floorServeCmd is the hidden subcommand "floor-serve": it runs a floor
// server (tools/floor) in its own process, so that its CPU can be read from
// /proc and it can be pinned, prints "url <ws-url>" on stdout, and serves
// until SIGTERM, SIGINT or its stdin closes.
const floorServeCmd = "floor-serve"

func floorServe(args []string) int {
	cfg := floor.DefaultConfig()
	fs := flag.NewFlagSet(floorServeCmd, flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "loopback address to listen on")
	fs.IntVar(&cfg.TickRate, "tick-rate", cfg.TickRate, "frames per client per second")
	fs.IntVar(&cfg.FrameSize, "frame-size", cfg.FrameSize, "frame payload size in bytes")
	fs.IntVar(&cfg.Writers, "writers", cfg.Writers, "writer goroutines (0: GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := floor.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor-serve: %v\n", err)
		return 2
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "floor-serve: %v\n", err)
		return 1
	}
	fmt.Printf("url %s\n", srv.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The parent holds our stdin: EOF means it is gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "floor-serve: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// readURLLine reads the "url ..." line a floor-serve child prints first.
func readURLLine(r io.Reader, timeout time.Duration) (string, error) {
	ch := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var u string
			if _, err := fmt.Sscanf(sc.Text(), "url %s", &u); err == nil {
				ch <- u
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
		close(ch)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case u, ok := <-ch:
		if !ok {
			return "", fmt.Errorf("floor-serve exited before printing its url")
		}
		return u, nil
	case <-t.C:
		return "", fmt.Errorf("floor-serve printed no url within %s", timeout)
	}
}
