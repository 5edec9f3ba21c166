package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Errors a caller may branch on (errors.Is); messages wrap them with the
// file or peer concerned, e.g. "cluster cert n1.crt: not signed by ca.crt".
var (
	// ErrNoNodeID: a certificate carries no ticksync://node/<id> URI SAN
	// (or more than one, or an invalid id).
	ErrNoNodeID = errors.New("no node id")
	// ErrNotSignedBy: a certificate does not chain to the cluster CA.
	ErrNotSignedBy = errors.New("not signed by")
	// ErrExpired: a certificate's validity ended.
	ErrExpired = errors.New("expired")
	// ErrNotYetValid: a certificate's validity has not begun.
	ErrNotYetValid = errors.New("not valid before")
	// ErrNoPeerCert: the peer of a connection presented no certificate.
	ErrNoPeerCert = errors.New("peer presented no certificate")
	// ErrWrongNode: the peer is a cluster node, but not the one expected.
	ErrWrongNode = errors.New("unexpected node")
)

// nodeURIScheme and nodeURIHost make a node's URI SAN:
// ticksync://node/<id>.
const (
	nodeURIScheme = "ticksync"
	nodeURIHost   = "node"
)

// NodeURI returns the URI SAN that names node id: ticksync://node/<id>.
func NodeURI(id string) *url.URL {
	return &url.URL{Scheme: nodeURIScheme, Host: nodeURIHost, Path: "/" + id}
}

// NodeID reads the node id of a certificate: the id of its one URI SAN
// ticksync://node/<id>. The CommonName is not read (generated certificates
// set it to the id too, for people reading them; certificates from another
// CA may use it for a host name). It does not verify the certificate.
func NodeID(cert *x509.Certificate) (string, error) {
	var id string
	found := 0
	for _, u := range cert.URIs {
		if u.Scheme != nodeURIScheme || u.Host != nodeURIHost {
			continue
		}
		found++
		id = strings.TrimPrefix(u.Path, "/")
		if u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			id = ""
		}
	}
	switch {
	case found == 0:
		return "", fmt.Errorf("%w (want a URI SAN %s://%s/<id>)", ErrNoNodeID, nodeURIScheme, nodeURIHost)
	case found > 1:
		return "", fmt.Errorf("%w: %d %s://%s/ URI SANs, want one", ErrNoNodeID, found, nodeURIScheme, nodeURIHost)
	}
	if err := ValidNodeID(id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoNodeID, err)
	}
	return id, nil
}

// PeerNodeID returns the node id in the certificate the peer of a TLS
// connection presented. It trusts that the handshake verified that
// certificate against the cluster CA, which the configs of NodeTLS do (and a
// connection whose handshake failed has no state to ask).
func PeerNodeID(state tls.ConnectionState) (string, error) {
	if len(state.PeerCertificates) == 0 {
		return "", ErrNoPeerCert
	}
	return NodeID(state.PeerCertificates[0])
}

// NodeTLS is one node's cluster credentials, checked: its certificate and
// key, the node id they carry, and the cluster CA that signed them.
// It is immutable and safe for concurrent use.
type NodeTLS struct {
	// ID is this node's id, read from its own certificate.
	ID string
	// Leaf is this node's certificate (NotAfter tells when to renew it).
	Leaf *x509.Certificate

	cert  tls.Certificate
	roots *x509.CertPool
}

// LoadNodeTLS reads the cluster CA (caFile, one or more PEM certificates)
// and this node's certificate and key, and checks them: the key matches the
// certificate, the certificate is valid now, chains to the CA for both
// server and client authentication, and carries a node id. Errors name the
// file and the problem: "cluster cert n1.crt: not signed by ca.crt",
// "cluster cert n1.crt: expired on 2027-01-01T00:00:00Z", "cluster cert
// n1.crt: no node id (want a URI SAN ticksync://node/<id>)".
func LoadNodeTLS(caFile, certFile, keyFile string) (*NodeTLS, error) {
	return loadNodeTLS(caFile, certFile, keyFile, time.Now())
}

func loadNodeTLS(caFile, certFile, keyFile string, now time.Time) (*NodeTLS, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster ca: %w", err)
	}
	cas, err := parseCerts(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster ca %s: %w", caFile, err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, fmt.Errorf("cluster ca %s: %q is not a CA certificate", caFile, c.Subject.CommonName)
		}
		roots.AddCert(c)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cluster cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster cert %s, key %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cluster cert %s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("cluster cert %s: %w %s", certFile, ErrNotYetValid, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(leaf.NotAfter) {
		return nil, fmt.Errorf("cluster cert %s: %w on %s", certFile, ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("cluster cert %s: chain: %w", certFile, err)
		}
		inter.AddCert(c)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage},
		})
		if err != nil {
			return nil, fmt.Errorf("cluster cert %s: %w", certFile, verifyError(err, caFile, usage))
		}
	}
	id, err := NodeID(leaf)
	if err != nil {
		return nil, fmt.Errorf("cluster cert %s: %w", certFile, err)
	}
	return &NodeTLS{ID: id, Leaf: leaf, cert: pair, roots: roots}, nil
}

// verifyError turns an x509 verification error into ours.
func verifyError(err error, caFile string, usage x509.ExtKeyUsage) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%w %s", ErrNotSignedBy, caFile)
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			return fmt.Errorf("its CA (%s) %w: %w", caFile, ErrExpired, err) // the leaf's own dates were checked before
		case x509.IncompatibleUsage:
			name := "server"
			if usage == x509.ExtKeyUsageClientAuth {
				name = "client"
			}
			return fmt.Errorf("not usable for TLS %s authentication (a node certificate must allow both): %w", name, err)
		}
	}
	return err
}

// ServerConfig is the TLS config of a node's cluster listener: TLS 1.3, this
// node's certificate, and a client certificate that chains to the cluster CA
// and carries a node id is required. Each call returns a new config the
// caller may modify (NextProtos, …).
func (n *NodeTLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{n.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    n.roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if _, err := PeerNodeID(cs); err != nil {
				return fmt.Errorf("cluster client: %w", err)
			}
			return nil
		},
	}
}

// ClientConfig is the TLS config of a node dialling another node: TLS 1.3,
// this node's certificate as client certificate, and a server certificate
// that chains to the cluster CA and carries a node id, equal to expectID
// unless expectID is empty. The server's host name is not checked: in the
// cluster a node is known by its id, not by the address it was reached at
// (see the package doc). Each call returns a new config.
func (n *NodeTLS) ClientConfig(expectID string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{n.cert},
		// The standard verification would also match the dialled host name
		// against the certificate; VerifyConnection below does the rest of
		// it (chain to the cluster CA, validity, server usage) and checks
		// the node id instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return n.verifyServer(cs, expectID)
		},
	}
}

func (n *NodeTLS) verifyServer(cs tls.ConnectionState, expectID string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("cluster server: %w", ErrNoPeerCert)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: n.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			return fmt.Errorf("cluster server %q: %w the cluster CA", leaf.Subject.CommonName, ErrNotSignedBy)
		}
		return fmt.Errorf("cluster server %q: %w", leaf.Subject.CommonName, err)
	}
	id, err := NodeID(leaf)
	if err != nil {
		return fmt.Errorf("cluster server %q: %w", leaf.Subject.CommonName, err)
	}
	if expectID != "" && id != expectID {
		return fmt.Errorf("cluster server is node %q, want %q: %w", id, expectID, ErrWrongNode)
	}
	return nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
