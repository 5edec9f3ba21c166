package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// Client calls one node's admin API; any node answers (it proxies what must
// run on the leader or an owner). One method per endpoint. Safe for
// concurrent use.
//
// Errors: an answer with a non-2xx status is an *Error (its status, code
// and message), which errors.Is matches against replication's sentinels
// (replication.ErrNotLeader, ErrMatchNotFound, …); a failure to reach the
// node or to read its answer is returned wrapped, not as *Error.
type Client struct {
	// BaseURL is the node's API base, e.g. "http://n1:7350".
	BaseURL string
	// Token is the admin token.
	Token string
	// HTTP sends the requests (set it for TLS with the cluster's CA).
	HTTP *http.Client
}

// NewClient returns a client of the node at addr, written as an operator
// types it: "n1:7350", "http://n1:7350", "wss://n1.example.com/ws" (the
// scheme maps ws→http and wss→https; the path is dropped). Its HTTP client
// times out after 30 s; ctx bounds each call further.
func NewClient(addr, token string) (*Client, error) {
	base, err := replication.APIBase(addr)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &Client{BaseURL: base, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Error is an error answer of the admin API.
type Error struct {
	Status  int    // HTTP status
	Code    string // replication.ErrorCode's code, e.g. "not_leader"; "" if the body had none
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// Unwrap returns the replication sentinel of Code (nil for none), so that
// errors.Is(err, replication.ErrNodeNotFound) works on answers.
func (e *Error) Unwrap() error { return replication.ErrorForCode(e.Code) }

// call sends one request (in JSON when in is not nil) and decodes a 2xx
// answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body, contentType = b, "application/json"
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	status, data, err := httpapi.Do(ctx, hc, method, c.BaseURL+path, c.Token, body, contentType, nil)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("%s %s", method, c.BaseURL+path)
		}
		return &Error{Status: status, Code: eb.Code, Message: eb.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, c.BaseURL+path, err)
	}
	return nil
}

// Status describes the node this client calls (GET /admin/v1/status).
func (c *Client) Status(ctx context.Context) (replication.Status, error) {
	var st replication.Status
	err := c.call(ctx, http.MethodGet, "/admin/v1/status", nil, &st)
	return st, err
}

// Nodes lists every node of the cluster (GET /admin/v1/nodes).
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var out []Node
	err := c.call(ctx, http.MethodGet, "/admin/v1/nodes", nil, &out)
	return out, err
}

// Matches lists every match (GET /admin/v1/matches).
func (c *Client) Matches(ctx context.Context) ([]Match, error) {
	var out []Match
	err := c.call(ctx, http.MethodGet, "/admin/v1/matches", nil, &out)
	return out, err
}

// Match returns match id with its owner's live view: players,
// measurements (GET /admin/v1/matches/{id}).
func (c *Client) Match(ctx context.Context, id string) (MatchDetail, error) {
	var m MatchDetail
	err := c.call(ctx, http.MethodGet, "/admin/v1/matches/"+url.PathEscape(id), nil, &m)
	return m, err
}

// CreateMatch creates a match (POST /admin/v1/matches).
func (c *Client) CreateMatch(ctx context.Context, req CreateMatchRequest) (Match, error) {
	var m Match
	err := c.call(ctx, http.MethodPost, "/admin/v1/matches", req, &m)
	return m, err
}

// Move hands match id over to node, with a final checkpoint (POST
// /admin/v1/matches/{id}/move). It returns the match under its new owner.
func (c *Client) Move(ctx context.Context, id, node string) (Match, error) {
	var m Match
	err := c.call(ctx, http.MethodPost, "/admin/v1/matches/"+url.PathEscape(id)+"/move", MoveRequest{Node: node}, &m)
	return m, err
}

// EndMatch ends match id through Raft; its players are closed with "match
// ended" (DELETE /admin/v1/matches/{id}).
func (c *Client) EndMatch(ctx context.Context, id string) (EndResult, error) {
	var res EndResult
	err := c.call(ctx, http.MethodDelete, "/admin/v1/matches/"+url.PathEscape(id), nil, &res)
	return res, err
}

// Kick removes player from match id and closes its connection with
// "kicked" (POST /admin/v1/matches/{id}/kick). It returns the match as its
// owner sees it after the kick.
func (c *Client) Kick(ctx context.Context, id string, player uint32) (MatchDetail, error) {
	var m MatchDetail
	err := c.call(ctx, http.MethodPost, "/admin/v1/matches/"+url.PathEscape(id)+"/kick", KickRequest{Player: player}, &m)
	return m, err
}

// Drain marks node draining: it takes no new matches and hands its own over
// (POST /admin/v1/nodes/{id}/drain). It returns the node's row.
func (c *Client) Drain(ctx context.Context, node string) (Node, error) {
	var nd Node
	err := c.call(ctx, http.MethodPost, "/admin/v1/nodes/"+url.PathEscape(node)+"/drain", nil, &nd)
	return nd, err
}

// Undrain makes a draining node alive again (POST
// /admin/v1/nodes/{id}/undrain). It returns the node's row.
func (c *Client) Undrain(ctx context.Context, node string) (Node, error) {
	var nd Node
	err := c.call(ctx, http.MethodPost, "/admin/v1/nodes/"+url.PathEscape(node)+"/undrain", nil, &nd)
	return nd, err
}

// RemoveNode removes node from Raft (POST /admin/v1/nodes/{id}/remove); its
// matches move once failover-after passes without its heartbeats.
func (c *Client) RemoveNode(ctx context.Context, node string) (RemoveResult, error) {
	var res RemoveResult
	err := c.call(ctx, http.MethodPost, "/admin/v1/nodes/"+url.PathEscape(node)+"/remove", nil, &res)
	return res, err
}

// TransferLeader hands Raft leadership to node, or to the most up-to-date
// voter when node is "" (POST /admin/v1/transfer-leader). It returns once
// the node it called knows the new leader, whose id the result carries.
func (c *Client) TransferLeader(ctx context.Context, node string) (TransferResult, error) {
	var res TransferResult
	err := c.call(ctx, http.MethodPost, "/admin/v1/transfer-leader", TransferRequest{Node: node}, &res)
	return res, err
}
