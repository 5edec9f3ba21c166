// Package ctl is ticksyncctl, the operator's command-line tool for a
// ticksync cluster; cmd/ticksyncctl is a thin main over Run.
//
//	ticksyncctl [-addr URL] [-token T] [-o table|json] <command> [arguments]
//
// Data flow: Run parses the command line (global flags before or after the
// command; -addr and -token fall back to TICKSYNC_ADDR and
// TICKSYNC_ADMIN_TOKEN), calls one method of the typed admin API client
// (replication/admin.Client) on the node at -addr, and writes the answer:
// a table for people, or with -o json the API's own JSON, indented (watch:
// one object per line and frame). Any node answers every command: the node
// forwards to the leader or to a match's owner itself. token (mint a player
// token with the nodes' -auth-secret, schema/token.MintPlayer) and version
// (internal/buildinfo) need no node.
//
// Exit codes: ExitOK (0) done; ExitFailed (1) the node refused, failed or
// could not be reached; ExitUsage (2) a bad command line, and nothing was
// sent. Every error is one line on stderr that says what to do next: a
// wrong token ("401: the admin token does not match; pass -token or set
// TICKSYNC_ADMIN_TOKEN"), a node that is down ("cannot reach
// http://…: is the node running? (connection refused)"), an unknown id
// ("match xyz not found (ticksyncctl matches lists them)").
//
// watch polls on the goroutine that calls Run, once per -interval, until
// ctx ends (Ctrl-C: exit 0), -count frames are written, or the match is
// gone; a node that does not answer for a while is retried. The package
// starts no goroutine.
package ctl
