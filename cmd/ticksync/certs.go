package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ticksync/ticksync/tools/certs"
)

// runCerts is `ticksync certs -out DIR -nodes n1,n2,n3 [-hosts h1,h2]
// [-overwrite]`: flags → certs.Config → certs.Generate, then what it wrote.
// Exit 0 ok, 1 failed, 2 usage.
func runCerts(args []string, stdout, stderr io.Writer) int {
	cfg := certs.DefaultConfig()
	fs := flag.NewFlagSet("ticksync certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ticksync certs -out DIR -nodes n1,n2,n3 [-hosts h1,h2] [-overwrite]\n\n"+
			"Writes a cluster CA (DIR/ca.crt, ca.key; an existing one is reused) and a certificate and key per node\n"+
			"(DIR/<id>.crt, <id>.key) for -cluster-ca, -cluster-cert and -cluster-key. A development set: in\n"+
			"production, issue the same shape of certificate from your own CA.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Dir, "out", cfg.Dir, "directory to write into (created 0700)")
	fs.Func("nodes", "comma-separated node ids to issue certificates for (required)", func(s string) error {
		cfg.Nodes = list(s)
		return nil
	})
	fs.Func("hosts", "comma-separated extra DNS names or IP addresses for every node certificate", func(s string) error {
		cfg.Hosts = list(s)
		return nil
	})
	fs.BoolVar(&cfg.Overwrite, "overwrite", false, "replace existing files, the CA included")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := cfg.Validate()
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "ticksync certs: %v\n", err)
		return 2
	}
	res, err := certs.Generate(cfg)
	if err == nil {
		err = res.WriteSummary(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ticksync certs: %v\n", err)
		return 1
	}
	return 0
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
