package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/ticksync/ticksync/schema/gameschema"
)

// MaxSchemaSize bounds the compiled schema FetchSchema reads.
const MaxSchemaSize = 1 << 20

// SchemaURL returns where the node behind the game endpoint wsURL serves
// the compiled schema of game: the same host over http (ws) or https
// (wss), path /games/{game}/schema.
func SchemaURL(wsURL, game string) (string, error) {
	if err := checkURL(wsURL); err != nil {
		return "", err
	}
	if game == "" {
		return "", errors.New("game: a name is required")
	}
	u, _ := url.Parse(wsURL)
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	out := url.URL{Scheme: scheme, Host: u.Host, Path: "/games/" + game + "/schema"}
	return out.String(), nil
}

// FetchSchema gets the compiled schema (.bfbs) of game from the node behind
// the game endpoint wsURL (see SchemaURL) and loads it. tlsConfig is used
// for a wss URL (nil: the system roots). An answer that is not a compiled
// schema (404, or another content type than application/octet-stream: a
// node that serves no schema for the game, or no schema endpoint at all) is an error wrapping ErrSchemaNotServed; another status
// than 200 wraps an *HTTPError; a node that does not answer, the
// *url.Error of net/http. A schema whose hash differs from the ETag the
// node sent is refused.
//
// The schema's Hash goes into every Hello (Config.Schema): a node whose
// match speaks another schema refuses the join.
func FetchSchema(ctx context.Context, wsURL, game string, tlsConfig *tls.Config) (*gameschema.Schema, error) {
	where, err := SchemaURL(wsURL, game)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", game, err)
	}
	tr := &http.Transport{Proxy: nil}
	if tlsConfig != nil {
		tr.TLSClientConfig = tlsConfig.Clone()
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", game, err)
	}
	defer resp.Body.Close()
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: GET %s: %s", ErrSchemaNotServed, where, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("schema of %s: %w", game, &HTTPError{StatusCode: resp.StatusCode, URL: where})
	case ct != "application/octet-stream":
		return nil, fmt.Errorf("%w: GET %s: content type %q", ErrSchemaNotServed, where, ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxSchemaSize+1))
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", game, err)
	}
	if len(b) > MaxSchemaSize {
		return nil, fmt.Errorf("schema of %s: over %d bytes", game, MaxSchemaSize)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", game, err)
	}
	if tag := strings.Trim(strings.TrimPrefix(resp.Header.Get("ETag"), "W/"), `"`); tag != "" && tag != s.HashString() {
		return nil, fmt.Errorf("schema of %s: hash %s, the node's ETag says %s", game, s.HashString(), tag)
	}
	return s, nil
}
