// Package keyfile keeps generated key material in files, for the embedded store's
// zero-configuration start: keys are created once with crypto/rand and reused.
package keyfile

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Load returns the n-byte key stored base64-encoded at path; an error wrapping
// fs.ErrNotExist when there is no such file.
func Load(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if derr != nil || len(key) != n {
		return nil, fmt.Errorf("key file %s: not base64 of %d bytes", path, n)
	}
	return key, nil
}

// LoadOrCreate returns the n-byte key stored base64-encoded at path, creating the file
// (mode 0600, its directory 0700) with a fresh random key if it does not exist.
func LoadOrCreate(path string, n int) ([]byte, error) {
	key, err := Load(path, n)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key = make([]byte, n)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use theirs.
		return LoadOrCreate(path, n)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("key file: %w", werr)
	}
	return key, nil
}
