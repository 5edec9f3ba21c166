package replication

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// maxJoinRedirects bounds the not_leader answers a join follows in a row
// before it backs off (leadership moving under it).
const maxJoinRedirects = 4

// JoinCluster asks the cluster, through the node at joinURL (any member's
// HTTP API as an operator types it: "http://10.0.0.1:7350"), to add this
// node as a voter, retrying with backoff until it succeeds, the answer is
// final, or ctx ends. Final answers: a bad request (400), a wrong token
// (401), an identity or security refusal (403), a membership conflict
// (409: the id is a member at another address, which only a node that
// proves the id by its certificate may take over). Call it after Start.
// Joining again with the same id and address (a restart) is fine.
//
// Without ClusterTLS the join is POST PathJoin on joinURL with the admin
// token, which a follower proxies to the leader. With ClusterTLS the node
// at joinURL answers 421 with its id and cluster port; the join then goes
// there over mutual TLS, with this node's certificate and no token, and
// follows a not_leader answer to the leader it names, so that the leader
// itself sees the certificate. Any goroutine; one call at a time.
func (n *Node) JoinCluster(ctx context.Context, joinURL string) error {
	return joinCluster(ctx, n.client, n.log, joinURL, n.Self())
}

func joinCluster(ctx context.Context, c *peerClient, log zerolog.Logger, joinURL string, self JoinRequest) error {
	base, err := APIBase(joinURL)
	if err != nil {
		return fmt.Errorf("join url: %w", err)
	}
	var via NodeInfo // with ClusterTLS: whom to ask, on its cluster port
	backoff := 100 * time.Millisecond
	redirects := 0
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := joinOnce(actx, c, base, via, self)
		cancel()
		if err == nil {
			return nil
		}
		var re *RemoteError
		switch {
		case errors.As(err, &re) && re.Code == ErrorCode(ErrUseClusterPort):
			if !c.secure() {
				return fmt.Errorf("join %s: the cluster runs with cluster certificates and this node has none: %s", base, insecureAdvice)
			}
			if via.RaftAddr == "" && re.ClusterAddr != "" {
				via = NodeInfo{ID: re.Node, RaftAddr: re.ClusterAddr}
				continue
			}
		case errors.As(err, &re) && re.Code == ErrorCode(ErrNotLeader) && c.secure() &&
			re.ClusterAddr != "" && redirects < maxJoinRedirects:
			via = NodeInfo{ID: re.Node, RaftAddr: re.ClusterAddr}
			redirects++
			continue
		case errors.As(err, &re) && re.Status == http.StatusUnauthorized && c.secure():
			return fmt.Errorf("join %s: %w (it asks for the admin token: it runs without cluster certificates, and every node of a cluster must run with them)", base, err)
		case errors.As(err, &re) && finalJoinStatus(re.Status):
			return fmt.Errorf("join %s: %w", base, err)
		case !errors.As(err, &re):
			via = NodeInfo{} // unreachable: ask the join URL again
		}
		redirects = 0
		if msg := err.Error(); ctx.Err() == nil {
			log.Debug().Str(keyJoin, base).Str(keyReason, msg).Msg("join not done yet; retrying")
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("join %s: %w (last error: %w)", base, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func finalJoinStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict:
		return true
	}
	return false
}

// joinOnce sends one join: over the cluster port to via when it is known
// (ClusterTLS), else to the join URL (with the token without ClusterTLS;
// with ClusterTLS none: the answer is the cluster port to ask).
func joinOnce(ctx context.Context, c *peerClient, base string, via NodeInfo, self JoinRequest) error {
	if c.secure() && via.RaftAddr != "" {
		return c.call(ctx, http.MethodPost, via, PathJoin, self, "", nil)
	}
	return c.do(ctx, c.discover(), http.MethodPost, base+PathJoin, self, "", nil)
}
