package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devSet generates a set for nodes into a fresh directory.
func devSet(t *testing.T, nodes ...string) *Result {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "certs")
	cfg.Nodes = nodes
	res, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func load(t *testing.T, ca string, nf NodeFiles) *NodeTLS {
	t.Helper()
	n, err := LoadNodeTLS(ca, nf.Cert, nf.Key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"ok", func(*Config) {}, ""},
		{"extra hosts", func(c *Config) { c.Hosts = []string{"n1.example.com", "10.0.0.1", "::2"} }, ""},
		{"no dir", func(c *Config) { c.Dir = "" }, "dir"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "at least one"},
		{"twice", func(c *Config) { c.Nodes = []string{"n1", "n1"} }, "listed twice"},
		{"slash", func(c *Config) { c.Nodes = []string{"a/b"} }, "only letters"},
		{"space", func(c *Config) { c.Nodes = []string{"a b"} }, "only letters"},
		{"ca", func(c *Config) { c.Nodes = []string{"ca"} }, `"ca"`},
		{"dot", func(c *Config) { c.Nodes = []string{".n1"} }, "start with '.'"},
		{"long", func(c *Config) { c.Nodes = []string{strings.Repeat("n", 65)} }, "1..64"},
		{"host with port", func(c *Config) { c.Hosts = []string{"n1:7351"} }, "host"},
		{"host url", func(c *Config) { c.Hosts = []string{"https://n1"} }, "host"},
		{"short ca", func(c *Config) { c.CAValidity = time.Minute }, "ca validity"},
		{"node outlives ca", func(c *Config) { c.NodeValidity = c.CAValidity + time.Hour }, "node validity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Nodes = []string{"n1", "n2"}
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

func TestGenerateFilesAndIdentity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "certs")
	cfg.Nodes = []string{"n1", "n2", "n3"}
	cfg.Hosts = []string{"n1.example.com", "10.1.2.3"}
	res, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.CAReused {
		t.Fatal("fresh directory: CA reported as reused")
	}
	modes := map[string]os.FileMode{res.CACert: 0o644, res.CAKey: 0o600}
	for _, nf := range res.Nodes {
		modes[nf.Cert], modes[nf.Key] = 0o644, 0o600
	}
	for p, want := range modes {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(p), got, want)
		}
	}
	if st, _ := os.Stat(cfg.Dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o, want 700", st.Mode().Perm())
	}
	for _, nf := range res.Nodes {
		n := load(t, res.CACert, nf)
		if n.ID != nf.ID {
			t.Errorf("%s: id read back %q", nf.Cert, n.ID)
		}
		l := n.Leaf
		if l.Subject.CommonName != nf.ID || len(l.URIs) != 1 || l.URIs[0].String() != "ticksync://node/"+nf.ID {
			t.Errorf("%s: cn %q uris %v", nf.ID, l.Subject.CommonName, l.URIs)
		}
		if err := l.VerifyHostname("n1.example.com"); err != nil {
			t.Errorf("%s: extra host: %v", nf.ID, err)
		}
		for _, h := range []string{"localhost", "127.0.0.1", "::1", "10.1.2.3"} {
			if err := l.VerifyHostname(h); err != nil {
				t.Errorf("%s: %v", nf.ID, err)
			}
		}
		if _, ok := l.PublicKey.(*ecdsa.PublicKey); !ok {
			t.Errorf("%s: key %T, want ECDSA", nf.ID, l.PublicKey)
		}
	}
}

func TestGenerateNoOverwrite(t *testing.T) {
	res := devSet(t, "n1", "n2")
	dir := filepath.Dir(res.CACert)
	before := readAll(t, dir)

	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Nodes = []string{"n3", "n2"} // n3 is new, n2 exists: nothing may be written
	if _, err := Generate(cfg); err == nil || !strings.Contains(err.Error(), "n2.crt exists") {
		t.Fatalf("want a refusal naming n2.crt, got %v", err)
	}
	if after := readAll(t, dir); !sameFiles(before, after) {
		t.Fatal("a refused Generate changed the directory")
	}

	// A new node alone is signed by the existing CA.
	cfg.Nodes = []string{"n4"}
	res4, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res4.CAReused {
		t.Fatal("existing CA not reported as reused")
	}
	after := readAll(t, dir)
	if !bytes.Equal(after[CACertFile], before[CACertFile]) || !bytes.Equal(after[CAKeyFile], before[CAKeyFile]) {
		t.Fatal("the CA changed")
	}
	a, b := load(t, res.CACert, res.Nodes[0]), load(t, res.CACert, res4.Nodes[0])
	if err := handshake(a.ServerConfig(), b.ClientConfig("n1")); err != nil {
		t.Fatalf("n4 and n1 under one CA: %v", err)
	}

	// Only one half of the CA: refused.
	if err := os.Remove(res.CAKey); err != nil {
		t.Fatal(err)
	}
	cfg.Nodes = []string{"n5"}
	if _, err := Generate(cfg); err == nil || !strings.Contains(err.Error(), "only one of them") {
		t.Fatalf("want a refusal for a CA without its key, got %v", err)
	}

	// Overwrite makes a new CA: the old node certificates stop verifying.
	cfg.Overwrite = true
	cfg.Nodes = []string{"n1"}
	if _, err := Generate(cfg); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(readAll(t, dir)[CACertFile], before[CACertFile]) {
		t.Fatal("overwrite kept the old CA")
	}
	if _, err := LoadNodeTLS(res.CACert, res.Nodes[1].Cert, res.Nodes[1].Key); !errors.Is(err, ErrNotSignedBy) {
		t.Fatalf("n2 after a new CA: want not signed, got %v", err)
	}
	if st, _ := os.Stat(res.CAKey); st.Mode().Perm() != 0o600 {
		t.Fatalf("overwritten ca.key mode %o", st.Mode().Perm())
	}
}

func TestLoadNodeTLSErrors(t *testing.T) {
	set := devSet(t, "n1")
	other := devSet(t, "n1")
	dir := filepath.Dir(set.CACert)
	n1 := set.Nodes[0]

	// Certificates the CA signed, but wrong: no node id, expired, not yet valid.
	ca, err := loadAuthority(set.CACert, set.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	noID := writePair(t, dir, "noid", ca, func(c *x509.Certificate) { c.URIs = nil })
	twoIDs := writePair(t, dir, "twoids", ca, func(c *x509.Certificate) { c.URIs = []*url.URL{NodeURI("a"), NodeURI("b")} })
	expired := writePair(t, dir, "expired", ca, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	})
	future := writePair(t, dir, "future", ca, func(c *x509.Certificate) { c.NotBefore = now.Add(24 * time.Hour) })
	serverOnly := writePair(t, dir, "serveronly", ca, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})

	for _, tc := range []struct {
		name          string
		ca, cert, key string
		is            error
		want          string
	}{
		{"wrong ca", other.CACert, n1.Cert, n1.Key, ErrNotSignedBy, n1.Cert + ": not signed by " + other.CACert},
		{"no node id", set.CACert, noID.Cert, noID.Key, ErrNoNodeID, noID.Cert + ": no node id"},
		{"two node ids", set.CACert, twoIDs.Cert, twoIDs.Key, ErrNoNodeID, "want one"},
		{"expired", set.CACert, expired.Cert, expired.Key, ErrExpired, expired.Cert + ": expired on"},
		{"not yet valid", set.CACert, future.Cert, future.Key, ErrNotYetValid, future.Cert + ": not valid before"},
		{"server only", set.CACert, serverOnly.Cert, serverOnly.Key, nil, "not usable for TLS client authentication"},
		{"key of another node", set.CACert, n1.Cert, other.Nodes[0].Key, nil, "does not match"},
		{"node cert as ca", n1.Cert, n1.Cert, n1.Key, nil, "not a CA certificate"},
		{"missing ca", filepath.Join(dir, "nope.crt"), n1.Cert, n1.Key, os.ErrNotExist, "nope.crt"},
		{"missing key", set.CACert, n1.Cert, filepath.Join(dir, "nope.key"), os.ErrNotExist, "nope.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadNodeTLS(tc.ca, tc.cert, tc.key)
			if err == nil {
				t.Fatal("loaded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestHandshakes: the configs of NodeTLS let nodes of one CA talk, read
// each other's ids, and refuse everyone else.
func TestHandshakes(t *testing.T) {
	set := devSet(t, "n1", "n2")
	other := devSet(t, "n1")
	n1, n2 := load(t, set.CACert, set.Nodes[0]), load(t, set.CACert, set.Nodes[1])
	stranger := load(t, other.CACert, other.Nodes[0])

	noCert := n2.ClientConfig("")
	noCert.Certificates = nil
	// A certificate of the cluster CA without a node id.
	ca, err := loadAuthority(set.CACert, set.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	noIDFiles := writePair(t, filepath.Dir(set.CACert), "noid", ca, func(c *x509.Certificate) { c.URIs = nil })
	noIDPair, err := tls.LoadX509KeyPair(noIDFiles.Cert, noIDFiles.Key)
	if err != nil {
		t.Fatal(err)
	}
	noID := n2.ClientConfig("")
	noID.Certificates = []tls.Certificate{noIDPair}
	noIDServer := n1.ServerConfig()
	noIDServer.Certificates = []tls.Certificate{noIDPair}
	// A stranger that skips verifying the server, to reach the server's check.
	bold := stranger.ClientConfig("")
	bold.VerifyConnection = nil

	for _, tc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
		is     error // nil: the handshake must succeed
	}{
		{"any node", n1.ServerConfig(), n2.ClientConfig(""), nil},
		{"expected node", n1.ServerConfig(), n2.ClientConfig("n1"), nil},
		{"another node than expected", n1.ServerConfig(), n2.ClientConfig("n2"), ErrWrongNode},
		{"client of another CA", n1.ServerConfig(), bold, errRefused},
		{"client without certificate", n1.ServerConfig(), noCert, errRefused},
		{"server of another CA", stranger.ServerConfig(), n2.ClientConfig(""), ErrNotSignedBy},
		{"client without node id", n1.ServerConfig(), noID, errRefused},
		{"server without node id", noIDServer, n2.ClientConfig(""), ErrNoNodeID},
		{"tls 1.2 client", n1.ServerConfig(), func() *tls.Config {
			c := n2.ClientConfig("")
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}(), errRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(tc.server, tc.client)
			switch {
			case tc.is == nil && err != nil:
				t.Fatalf("handshake: %v", err)
			case tc.is == errRefused && err == nil:
				t.Fatal("handshake succeeded")
			case tc.is != nil && tc.is != errRefused && !errors.Is(err, tc.is):
				t.Fatalf("want %v, got %v", tc.is, err)
			}
		})
	}

	// Both ends read the other's id from the connection.
	sc, cc, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	srv, cli := tls.Server(sc, n1.ServerConfig()), tls.Client(cc, n2.ClientConfig("n1"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if id, err := PeerNodeID(srv.ConnectionState()); err != nil || id != "n2" {
		t.Fatalf("server sees %q, %v; want n2", id, err)
	}
	if id, err := PeerNodeID(cli.ConnectionState()); err != nil || id != "n1" {
		t.Fatalf("client sees %q, %v; want n1", id, err)
	}
	if v := cli.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("version %x, want TLS 1.3", v)
	}
	_ = srv.Close()
	_ = cli.Close()
	if _, err := PeerNodeID(tls.ConnectionState{}); !errors.Is(err, ErrNoPeerCert) {
		t.Fatalf("no peer: %v", err)
	}
}

// errRefused marks a case where any handshake error will do (the server
// refuses; the client sees an alert whose text is the TLS stack's).
var errRefused = errors.New("refused")

// handshake runs one TLS handshake over loopback TCP and one round trip
// after it (in TLS 1.3 the client finishes before the server has checked
// the client's certificate; the round trip surfaces the server's verdict).
// It returns the client's error, or else the server's.
func handshake(server, client *tls.Config) error {
	sc, cc, err := tcpPair()
	if err != nil {
		return err
	}
	defer sc.Close()
	defer cc.Close()
	_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
	_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
	srv, cli := tls.Server(sc, server), tls.Client(cc, client)
	errc := make(chan error, 1)
	go func() {
		defer sc.Close()
		if err := srv.Handshake(); err != nil {
			errc <- err
			return
		}
		b := make([]byte, 1)
		if _, err := srv.Read(b); err != nil {
			errc <- err
			return
		}
		_, err := srv.Write(b)
		errc <- err
	}()
	cerr := cli.Handshake()
	if cerr == nil {
		if _, cerr = cli.Write([]byte{1}); cerr == nil {
			_, cerr = cli.Read(make([]byte, 1))
		}
	}
	_ = cc.Close()
	serr := <-errc
	if cerr != nil {
		return cerr
	}
	return serr
}

// tcpPair returns both ends of one loopback TCP connection.
func tcpPair() (server, client net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	if server, err = ln.Accept(); err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return server, client, nil
}

// writePair issues a certificate from ca shaped like a node's and edited by
// edit, and writes it and its key into dir as name.crt and name.key.
func writePair(t *testing.T, dir, name string, ca *authority, edit func(*x509.Certificate)) NodeFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := serialNumber()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{NodeURI(name)},
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		t.Fatal(err)
	}
	nf := NodeFiles{ID: name, Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
	if err := os.WriteFile(nf.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nf.Key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return nf
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
