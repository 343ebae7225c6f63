package importer

import (
	"os"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestMain(m *testing.M) {
	code := lanyardtest.Main(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
