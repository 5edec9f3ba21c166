package certs

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// WriteSummary prints what Generate wrote, one file a line, and how a node
// uses its files: what `ticksync certs` shows.
func (r *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	if r.CAReused {
		fmt.Fprintf(&b, "reused the CA %s (its key %s signed the new certificates)\n", r.CACert, r.CAKey)
	} else {
		fmt.Fprintf(&b, "wrote the CA %s and its key %s (keep the key off the nodes)\n", r.CACert, r.CAKey)
	}
	for _, nf := range r.Nodes {
		fmt.Fprintf(&b, "wrote node %s: %s %s\n", nf.ID, nf.Cert, nf.Key)
	}
	if len(r.Nodes) > 0 {
		nf := r.Nodes[0]
		fmt.Fprintf(&b, "start node %s with: -cluster-ca %s -cluster-cert %s -cluster-key %s (its -node-id defaults to %s)\n",
			nf.ID, r.CACert, nf.Cert, nf.Key, nf.ID)
		if len(r.Nodes) > 1 {
			fmt.Fprintf(&b, "and each other node likewise with its own %s and %s\n",
				filepath.Join(filepath.Dir(nf.Cert), CertFile("<id>")), filepath.Join(filepath.Dir(nf.Key), KeyFile("<id>")))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
