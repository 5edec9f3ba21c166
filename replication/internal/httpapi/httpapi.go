// Package httpapi is the HTTP plumbing shared by the node's two JSON APIs
// under /admin/v1/: the node-to-node calls (package replication) and the
// operator API (package replication/admin). Both speak the same dialect:
// bearer-token authentication, indented JSON bodies, errors as
// {"error": "...", "code": "..."}, unknown request fields refused, and a
// request proxied from one node to another at most once (HeaderForwarded).
//
// It knows nothing of the error sentinels or their codes; the packages
// above map their errors to a status and a code and call WriteError.
package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// HeaderForwarded marks a request one node proxied to another; it is never
// proxied again (no loops while the leader changes). Its value is the
// proxying node's id.
const HeaderForwarded = "X-Ticksync-Forwarded"

// MaxJSONBody bounds a JSON request body.
const MaxJSONBody = 1 << 20

// MaxResponseBytes bounds what a client reads from a peer.
const MaxResponseBytes = 64 << 20

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error  string `json:"error"`
	Code   string `json:"code,omitempty"`
	Leader string `json:"leader,omitempty"`
	// Node and ClusterAddr name a node and its cluster port (host:port) to
	// ask instead: the leader, or the answering node itself when the
	// request belongs on its cluster port.
	Node        string `json:"node,omitempty"`
	ClusterAddr string `json:"cluster_addr,omitempty"`
}

// WriteJSON writes v as indented JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes an error answer.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: message, Code: code})
}

// WriteErrorBody writes an error answer with every field of b.
func WriteErrorBody(w http.ResponseWriter, status int, b ErrorBody) {
	WriteJSON(w, status, b)
}

// Authorized reports whether r carries "Authorization: Bearer <token>"
// (constant-time). An empty token authorizes nothing.
func Authorized(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
}

// Challenge sets the WWW-Authenticate header of a 401 answer.
func Challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="ticksync-admin"`)
}

// DecodeJSON decodes one JSON value from data into v, refusing unknown
// fields. Empty (or blank) data leaves v as it is.
func DecodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// ReadJSON decodes a request body of at most MaxJSONBody bytes into v,
// refusing unknown fields. An empty body leaves v as it is.
func ReadJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// TransportError is a failure to get an answer from another node (as
// opposed to an answer that is an error): the request may be retried.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Do sends one request with the bearer token (none when token is empty)
// and returns the answer's status and body (at most MaxResponseBytes). body
// nil sends none. A failure to send or to read the answer is a
// *TransportError.
func Do(ctx context.Context, hc *http.Client, method, url, token string, body []byte, contentType string, hdr http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, &TransportError{fmt.Errorf("%s %s: %w", method, url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return 0, nil, &TransportError{fmt.Errorf("%s %s: read response: %w", method, url, err)}
	}
	return resp.StatusCode, data, nil
}

// Proxy sends r (with body, already read) to the same path on the node at
// api (a base URL) with the client hc, marked with HeaderForwarded: self, and copies the answer to w. It
// returns a *TransportError, without writing, when the node did not answer.
// The caller checks first that r was not already forwarded.
func Proxy(w http.ResponseWriter, r *http.Request, body []byte, hc *http.Client, api, token, self string) error {
	hdr := http.Header{HeaderForwarded: []string{self}}
	status, data, err := Do(r.Context(), hc, r.Method, api+r.URL.RequestURI(), token, body, r.Header.Get("Content-Type"), hdr)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
	return nil
}
