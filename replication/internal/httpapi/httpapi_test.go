package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeAndAuthorize(t *testing.T) {
	var v struct {
		Node string `json:"node"`
	}
	if err := DecodeJSON([]byte(" \n"), &v); err != nil || v.Node != "" {
		t.Fatalf("blank body: %v", err)
	}
	if err := DecodeJSON([]byte(`{"node":"n1","extra":1}`), &v); err == nil {
		t.Fatal("unknown field accepted")
	}
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(""))
	if err := ReadJSON(r, &v); err != nil {
		t.Fatalf("empty request body: %v", err)
	}
	r.Header.Set("Authorization", "Bearer ")
	if Authorized(r, "") {
		t.Fatal("an empty token authorized a request")
	}
	r.Header.Set("Authorization", "Bearer s3cret")
	if !Authorized(r, "s3cret") || Authorized(r, "other") {
		t.Fatal("bearer check")
	}
}

// TestProxy: the request reaches the other node with its method, path,
// query, body, token and the forwarded mark, and the answer comes back as
// it was; an unreachable node is a TransportError and nothing is written.
func TestProxy(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.RequestURI() != "/admin/v1/x?y=1" || string(body) != `{"a":1}` ||
			r.Header.Get(HeaderForwarded) != "n2" || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("proxied request %s %s %q %v", r.Method, r.URL.RequestURI(), body, r.Header)
		}
		WriteError(w, http.StatusConflict, "stale_epoch", "stale")
	}))
	defer peer.Close()
	in := httptest.NewRequest(http.MethodPost, "/admin/v1/x?y=1", nil)
	in.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	if err := Proxy(rec, in, []byte(`{"a":1}`), peer.Client(), peer.URL, "tok", "n2"); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), `"code": "stale_epoch"`) {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	peer.Close()
	rec = httptest.NewRecorder()
	err := Proxy(rec, in, nil, peer.Client(), peer.URL, "tok", "n2")
	var te *TransportError
	if !errors.As(err, &te) || rec.Body.Len() != 0 {
		t.Fatalf("unreachable: %v, wrote %q", err, rec.Body)
	}
	if _, _, err := Do(context.Background(), http.DefaultClient, "BAD METHOD", "http://x", "", nil, "", nil); err == nil || errors.As(err, &te) {
		t.Fatalf("a request that cannot be built: %v", err)
	}
}
