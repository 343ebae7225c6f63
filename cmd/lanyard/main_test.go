package main

import (
	"os"
	"testing"

	"github.com/lanyard/lanyard/internal/lanyardtest"
)

// TestMain gives the tests that run the service in-process (the import's) the shared
// test store; the process tests start stores of their own.
func TestMain(m *testing.M) { os.Exit(lanyardtest.Main(m)) }
