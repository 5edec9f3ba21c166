package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside a certificate directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// CertFile and KeyFile name a node's files inside a certificate directory:
// "<id>.crt" and "<id>.key".
func CertFile(id string) string { return id + ".crt" }

// KeyFile: see CertFile.
func KeyFile(id string) string { return id + ".key" }

// Config says what Generate writes.
type Config struct {
	// Dir receives the files; it is created (0700) if missing.
	Dir string
	// Nodes are the node ids to issue certificates for (at least one; see
	// ValidNodeID).
	Nodes []string
	// Hosts are extra DNS names or IP addresses put in every node
	// certificate, besides 127.0.0.1, ::1 and localhost. Peers do not check
	// them (a node is known by its id, see the package doc); they are for
	// tools that verify host names, such as curl against the HTTP API.
	Hosts []string
	// CAValidity and NodeValidity: how long the certificates are valid
	// (from an hour before now, to absorb clock skew).
	CAValidity   time.Duration
	NodeValidity time.Duration
	// Overwrite replaces existing files, the CA included (certificates of
	// nodes not listed in Nodes then stop verifying). Without it an existing
	// CA is reused to sign the listed nodes and an existing node file is an
	// error.
	Overwrite bool

	// now is the clock (tests issue expired certificates with it).
	now func() time.Time
}

// DefaultConfig is a dev set: a CA valid for 10 years, node certificates
// valid for 5, no extra hosts.
func DefaultConfig() Config {
	return Config{
		Dir:          "ticksync-certs",
		CAValidity:   10 * 365 * 24 * time.Hour,
		NodeValidity: 5 * 365 * 24 * time.Hour,
	}
}

// Validate reports every invalid setting, saying what is allowed.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Dir == "" {
		bad("dir: must not be empty")
	}
	if len(c.Nodes) == 0 {
		bad("nodes: need at least one node id")
	}
	seen := make(map[string]bool, len(c.Nodes))
	for _, id := range c.Nodes {
		if err := ValidNodeID(id); err != nil {
			errs = append(errs, err)
		} else if seen[id] {
			bad("node id %q: listed twice", id)
		}
		seen[id] = true
	}
	for _, h := range c.Hosts {
		if net.ParseIP(h) == nil && !validDNSName(h) {
			bad("host %q: must be an IP address or a DNS name (no scheme, no port)", h)
		}
	}
	if c.CAValidity < time.Hour {
		bad("ca validity %s: must be at least 1h", c.CAValidity)
	}
	if c.NodeValidity < time.Hour || c.NodeValidity > c.CAValidity {
		bad("node validity %s: must be 1h..ca validity (%s)", c.NodeValidity, c.CAValidity)
	}
	return errors.Join(errs...)
}

// ValidNodeID reports whether id can be a node id in a certificate and a
// file name: 1..64 characters among letters, digits, '.', '_' and '-', not
// starting with '.', and not "ca" (the CA's files).
func ValidNodeID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("node id %q: must be 1..64 characters", id)
	}
	if id[0] == '.' || id == "ca" {
		return fmt.Errorf("node id %q: must not start with '.' nor be \"ca\"", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("node id %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

func validDNSName(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Result lists what Generate wrote.
type Result struct {
	// CACert and CAKey are the CA's file paths.
	CACert, CAKey string
	// CAReused: the CA already existed and signed the new certificates.
	CAReused bool
	// Nodes: one entry per node, in the order of Config.Nodes.
	Nodes []NodeFiles
}

// NodeFiles are one node's certificate and key paths.
type NodeFiles struct {
	ID, Cert, Key string
}

// Generate writes a CA (ca.crt, ca.key) unless the directory holds one
// already, and a certificate and key for every node (<id>.crt, <id>.key)
// signed by it. Keys are written 0600, certificates 0644. Nothing is written
// when a node's file exists and cfg.Overwrite is false.
func Generate(cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("certs config: %w", err)
	}
	now := time.Now
	if cfg.now != nil {
		now = cfg.now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.Dir, err)
	}
	res := &Result{CACert: filepath.Join(cfg.Dir, CACertFile), CAKey: filepath.Join(cfg.Dir, CAKeyFile)}
	for _, id := range cfg.Nodes {
		res.Nodes = append(res.Nodes, NodeFiles{
			ID: id, Cert: filepath.Join(cfg.Dir, CertFile(id)), Key: filepath.Join(cfg.Dir, KeyFile(id)),
		})
	}

	// Check everything before writing anything: no half-written sets.
	caCertExists, caKeyExists := exists(res.CACert), exists(res.CAKey)
	if !cfg.Overwrite {
		if caCertExists != caKeyExists {
			return nil, fmt.Errorf("%s and %s: only one of them exists; restore the other or pass overwrite to make a new CA", res.CACert, res.CAKey)
		}
		for _, nf := range res.Nodes {
			for _, p := range []string{nf.Cert, nf.Key} {
				if exists(p) {
					return nil, fmt.Errorf("%s exists: refusing to overwrite it (pass overwrite to replace)", p)
				}
			}
		}
	}

	var ca *authority
	if caCertExists && caKeyExists && !cfg.Overwrite {
		var err error
		if ca, err = loadAuthority(res.CACert, res.CAKey); err != nil {
			return nil, err
		}
		if !now().Before(ca.cert.NotAfter) {
			return nil, fmt.Errorf("ca cert %s: expired on %s; pass overwrite to make a new CA", res.CACert, ca.cert.NotAfter.UTC().Format(time.RFC3339))
		}
		res.CAReused = true
	} else {
		var err error
		if ca, err = newAuthority(now(), cfg.CAValidity); err != nil {
			return nil, err
		}
	}

	type issued struct{ cert, key []byte }
	out := make([]issued, len(res.Nodes))
	for i, nf := range res.Nodes {
		cert, key, err := ca.issueNode(nf.ID, cfg.Hosts, now(), cfg.NodeValidity)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", nf.ID, err)
		}
		out[i] = issued{cert, key}
	}

	if !res.CAReused {
		if err := writeFile(res.CAKey, ca.keyPEM, 0o600, cfg.Overwrite); err != nil {
			return nil, err
		}
		if err := writeFile(res.CACert, ca.certPEM, 0o644, cfg.Overwrite); err != nil {
			return nil, err
		}
	}
	for i, nf := range res.Nodes {
		if err := writeFile(nf.Key, out[i].key, 0o600, cfg.Overwrite); err != nil {
			return nil, err
		}
		if err := writeFile(nf.Cert, out[i].cert, 0o644, cfg.Overwrite); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeFile writes data to path with perm. Without overwrite it fails if
// path exists (O_EXCL, so a file created meanwhile is not clobbered either);
// with overwrite it writes a temporary file and renames it over path.
func writeFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	if !overwrite {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if _, err := f.Write(data); err != nil {
			_ = f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// authority is a CA in memory: its certificate and signing key.
type authority struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

func newAuthority(now time.Time, validity time.Duration) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ticksync cluster CA", Organization: []string{"ticksync"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // signs node certificates only, no intermediates
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	return &authority{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  keyPEM,
	}, nil
}

// loadAuthority reads an existing CA pair written by Generate (or any CA
// certificate with an ECDSA, RSA or Ed25519 key in PKCS#8, PKCS#1 or SEC 1).
func loadAuthority(certFile, keyFile string) (*authority, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("ca cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	certs, err := parseCerts(certPEM)
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("ca cert %s: want exactly one certificate (%v)", certFile, err)
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("ca cert %s: not a CA certificate", certFile)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca key %s: %w", keyFile, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("ca key %s: does not match %s", keyFile, certFile)
	}
	return &authority{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// issueNode makes a key and a certificate for node id: CommonName id, URI
// SAN ticksync://node/<id>, loopback plus hosts as DNS/IP SANs, usable for
// both TLS server and client authentication.
func (a *authority) issueNode(id string, hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter // a certificate outliving its CA would not verify anyway
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id, Organization: []string{"ticksync"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{NodeURI(id)},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err = marshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never 0
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

func marshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
