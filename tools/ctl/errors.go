package ctl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
)

// subject is what a command is about: the ids an error message names.
type subject struct {
	match  string
	node   string
	player uint32
}

// explain turns err into one line that says what went wrong and what to
// do. The admin API's own messages come through, with a hint where the
// operator has a next step.
func (r *runner) explain(err error) string {
	base := r.addr
	if r.client != nil {
		base = r.client.BaseURL
	}
	var ae *admin.Error
	if errors.As(err, &ae) {
		return explainAPI(ae, r.subject, r.token != "")
	}
	return explainTransport(err, base, r.timeout.String())
}

// explainAPI explains an error answer of the admin API.
func explainAPI(ae *admin.Error, sub subject, tokenGiven bool) string {
	msg := ae.Message
	switch {
	case ae.Status == http.StatusUnauthorized && strings.Contains(msg, "disabled"):
		return "401: the node's admin API is disabled (the node has no -admin-token); start every node with the same -admin-token"
	case ae.Status == http.StatusUnauthorized && !tokenGiven:
		return "401: no admin token given; pass -token or set TICKSYNC_ADMIN_TOKEN"
	case ae.Status == http.StatusUnauthorized:
		return "401: the admin token does not match; pass -token or set TICKSYNC_ADMIN_TOKEN"
	case errors.Is(ae, replication.ErrMatchNotFound) && sub.match != "":
		return fmt.Sprintf("match %s not found (ticksyncctl matches lists them)", sub.match)
	case errors.Is(ae, replication.ErrNodeNotFound) && sub.node != "":
		return fmt.Sprintf("node %s not found (ticksyncctl nodes lists them)", sub.node)
	case errors.Is(ae, replication.ErrPlayerNotFound):
		return fmt.Sprintf("player %d is not in match %s (ticksyncctl match %s lists its players)", sub.player, sub.match, sub.match)
	case errors.Is(ae, replication.ErrNoLeader), errors.Is(ae, replication.ErrNotLeader):
		return fmt.Sprintf("%s: the cluster has no leader right now (an election takes a second or two); retry", msg)
	case errors.Is(ae, replication.ErrNodeNotAlive), errors.Is(ae, replication.ErrNoLiveNode):
		return fmt.Sprintf("%s (ticksyncctl nodes shows their states)", msg)
	case errors.Is(ae, replication.ErrBadRequest):
		return strings.TrimPrefix(msg, replication.ErrBadRequest.Error()+": ")
	case ae.Code == "":
		return fmt.Sprintf("HTTP %d from the node: %s (is -addr a ticksync node?)", ae.Status, msg)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", msg, ae.Status, ae.Code)
}

// explainTransport explains a failure to get an answer from base.
func explainTransport(err error, base, timeout string) string {
	var dnsErr *net.DNSError
	var uae x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s: is the node running? (connection refused)", base)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot reach %s: unknown host %s; check -addr or TICKSYNC_ADDR", base, dnsErr.Name)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("cannot reach %s: no answer within %s; check -addr, or wait longer with -timeout", base, timeout)
	case errors.As(err, &uae), errors.As(err, &hostErr):
		return fmt.Sprintf("cannot reach %s: the node's TLS certificate is not trusted (%v)", base, err)
	case errors.As(err, &recErr):
		return fmt.Sprintf("cannot reach %s: the node does not speak TLS; use http:// in -addr", base)
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return fmt.Sprintf("unexpected answer from %s (%v): is -addr a ticksync node's HTTP address?", base, err)
	}
	return fmt.Sprintf("cannot reach %s: %v", base, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
