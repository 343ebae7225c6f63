// Package subkey derives the keys of each use from the one root key,
// LANYARD_DATA_KEY, with HKDF-SHA256. Each use names itself with its own info
// string, so a key serves one purpose only, and the version in the string lets a
// future scheme derive different keys from the same root.
package subkey

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// RootLen is the length of the root key, and of every subkey.
const RootLen = 32

// Derive returns the subkey of root for the use named by info.
func Derive(root []byte, info string) ([]byte, error) {
	if len(root) != RootLen {
		return nil, fmt.Errorf("root key must be %d bytes, got %d", RootLen, len(root))
	}
	key, err := hkdf.Key(sha256.New, root, nil, info, RootLen)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", info, err)
	}
	return key, nil
}
