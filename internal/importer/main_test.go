package importer

import (
	"os"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }
