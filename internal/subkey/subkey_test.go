package subkey

import (
	"bytes"
	"testing"
)

func TestDerive_EachUseGetsItsOwnKeyAndTheSameUseTheSameKey(t *testing.T) {
	t.Parallel()
	root := bytes.Repeat([]byte{7}, RootLen)
	a1, err := Derive(root, "lanyard/test/a/v1")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := Derive(root, "lanyard/test/a/v1")
	b, _ := Derive(root, "lanyard/test/b/v1")
	other, _ := Derive(bytes.Repeat([]byte{8}, RootLen), "lanyard/test/a/v1")
	if len(a1) != RootLen {
		t.Errorf("subkey has %d bytes; want %d", len(a1), RootLen)
	}
	if !bytes.Equal(a1, a2) {
		t.Error("the same root and info gave two different subkeys")
	}
	if bytes.Equal(a1, b) || bytes.Equal(a1, other) || bytes.Equal(a1, root) {
		t.Error("a subkey equals the subkey of another use, of another root, or the root itself")
	}
}

func TestDerive_RejectsARootKeyOfTheWrongLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if k, err := Derive(make([]byte, n), "lanyard/test/v1"); err == nil {
			t.Errorf("Derive(%d bytes) = %x, nil; want an error", n, k)
		}
	}
}
