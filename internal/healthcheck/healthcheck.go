// Package healthcheck is the "ticksync healthcheck" command: it asks a
// node's /readyz (or any URL) whether it is ready and exits 0 or 1, for
// container health checks in images without a shell or curl
// (HEALTHCHECK CMD ["/usr/local/bin/ticksync", "healthcheck"]).
//
// Data flow: Main parses its flags → one GET with a deadline → exit code,
// and the reason on stderr when it is not 0. The default URL is the node's
// own /readyz on loopback, from the TICKSYNC_HTTP_ADDR and
// TICKSYNC_TLS_CERT variables the node itself reads, so that the check in a
// container needs no arguments.
package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeout is how long a check waits for the answer.
const Timeout = 2 * time.Second

// Main runs the command with args (after "healthcheck") and returns its
// exit code: 0 when the URL answered 200 within Timeout, 1 when it did not
// (the reason on stderr), 2 for a usage error. getenv reads the node's
// TICKSYNC_ variables for the default URL.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ticksync healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := DefaultURL(getenv)
	u := fs.String("url", def, "URL to GET; ready when it answers 200")
	insecure := fs.Bool("insecure", false, "skip TLS certificate verification (always skipped for a loopback https URL)")
	timeout := fs.Duration("timeout", Timeout, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ticksync healthcheck [-url %s]\n\nExits 0 when the URL answers 200 within the timeout, else 1 with the reason.\n\n", def)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ticksync healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := Check(ctx, *u, *insecure); err != nil {
		fmt.Fprintf(stderr, "ticksync healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s\n", *u)
	return 0
}

// DefaultURL is the node's /readyz on loopback: the port of
// TICKSYNC_HTTP_ADDR (default 7350), https when TICKSYNC_TLS_CERT is set.
// An unspecified or loopback host becomes 127.0.0.1; another host is kept.
func DefaultURL(getenv func(string) string) string {
	addr := getenv("TICKSYNC_HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7350"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", "7350"
	}
	if ip := net.ParseIP(host); host == "" || host == "localhost" || ip != nil && (ip.IsUnspecified() || ip.IsLoopback()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if getenv("TICKSYNC_TLS_CERT") != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz"
}

// Check GETs rawURL and returns nil when it answers 200 before ctx ends,
// else an error that says why (the status and the first line of the body,
// or the transport error). TLS verification is skipped when insecure is
// set or the host is a loopback address (the node's own certificate names
// its public host, not 127.0.0.1).
func Check(ctx context.Context, rawURL string, insecure bool) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: must be http:// or https:// with a host", rawURL)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
		insecure = true
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer in time: %w", rawURL, err)
		}
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return fmt.Errorf("GET %s: %s: %s", rawURL, resp.Status, line)
	}
	return nil
}
