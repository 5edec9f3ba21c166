package ticksync

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// adminTokenFile is the file in the data dir that holds the admin token of
// a node started without -admin-token.
const adminTokenFile = "admin-token"

// loadAdminToken returns the admin token in dir's admin-token file,
// creating the file (mode 0600) with a new random token when there is none;
// created says it did. A file that exists but holds no valid token is an
// error that names it: the node does not silently replace an operator's
// token.
func loadAdminToken(dir string) (token, path string, created bool, err error) {
	path = filepath.Join(dir, adminTokenFile)
	for range 2 { // a second process may create it between our read and create
		b, err := os.ReadFile(path)
		if err == nil {
			tok := strings.TrimSpace(string(b))
			if tok == "" || len(tok) > 4096 || strings.ContainsAny(tok, " \t\r\n") {
				return "", path, false, fmt.Errorf("%s: not a token (one line, no spaces): fix or delete it", path)
			}
			return tok, path, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", path, false, err
		}
		tok := randomToken()
		err = writeNewFile(path, []byte(tok+"\n"))
		if err == nil {
			return tok, path, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", path, false, err
		}
	}
	return "", path, false, fmt.Errorf("%s: created and removed while reading it", path)
}

// writeNewFile writes data to a file that must not exist yet, readable by
// its owner only, and syncs it.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// logAdminToken says where the admin token is when it came from the data
// dir (never the token itself), with the command that uses it, and warns
// when others may read the file.
func (n *Node) logAdminToken(created bool, api string) {
	if n.tokenFile == "" {
		return
	}
	use := "TICKSYNC_ADMIN_TOKEN=$(cat " + n.tokenFile + ") ticksyncctl status"
	if api != "http://127.0.0.1:7350" {
		use = "TICKSYNC_ADDR=" + api + " " + use
	}
	msg := "no -admin-token: using the one in the data dir"
	if created {
		msg = "no -admin-token: generated one into the data dir"
	}
	n.log.Info().Str(keyPath, n.tokenFile).Str(keyUse, use).Msg(msg)
	if fi, err := os.Stat(n.tokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		n.log.Warn().Str(keyPath, n.tokenFile).Stringer(keyMode, fi.Mode().Perm()).Msg("the admin token file is readable by others: chmod 600 it")
	}
}

// randomToken returns 32 random hex digits.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
