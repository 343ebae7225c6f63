package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lanyard/lanyard/internal/bench"
	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/password"
)

const benchUsage = `usage: lanyard bench [flags]

Drives each scenario at a concurrency for a duration and prints requests/s, p50, p90,
p99, max and errors per scenario, with the two floors measured in the same run: the
store's FindOne by _id and argon2id hashing. Without --url it starts its own server
in-process on the embedded store in a temporary directory, with the real hash cost.

Against --url, set MONGODB_URI (and LANYARD_DB, LANYARD_DATA_KEY,
as the server has them) to let the bench seed through the store, act as an admin,
run chain_delete and the FindOne baseline; without them those are skipped.

flags:`

// runBench is `lanyard bench`: the load tool of internal/bench.
func runBench(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lanyard bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var (
		url         = fs.String("url", "", "a running server, e.g. http://127.0.0.1:8080 (default: start one in-process)")
		duration    = fs.Duration("duration", 10*time.Second, "how long each scenario and baseline runs")
		concurrency = fs.Int("concurrency", 32, "concurrent clients per scenario")
		scenarios   = fs.String("scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(bench.Names(), ","))
		jsonOut     = fs.String("json", "", `also write the report as JSON to this file; "-" writes it to stdout and the table to stderr`)
		users       = fs.Int("users", 0, "users to seed before running, each with 2 linked IDs and 3 sessions (at least --concurrency are)")
		deleteDocs  = fs.Int("delete-docs", 100, "documents held by each user that chain_delete deletes: a 11th posts, the rest comments spread over them (1100: 100 posts × 10 comments)")
		posts       = fs.Int("posts", 0, "posts to seed (declared relations posts and comments, one comment each): 10 for each client's user, the rest spread over the other users; expand seeds the clients' own even without it")
		oneAddress  = fs.Bool("one-address", false, "send every client's requests from the bench's address instead of one X-Forwarded-For address per client (198.18.0.0/15)")
		cheapHash   = fs.Bool("cheap-hash", false, "in-process server only: use the tests' cheap argon2id cost (64 KiB, 1 pass), which protects nothing, to measure what login and register cost beyond the hash")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile of the scenarios to this file (go tool pprof); without --url it includes the server")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("lanyard bench: unexpected argument %q", fs.Arg(0))
	case *duration <= 0:
		return errors.New("lanyard bench: --duration must be positive")
	case *concurrency <= 0:
		return errors.New("lanyard bench: --concurrency must be positive")
	case *users < 0 || *posts < 0 || *deleteDocs <= 0:
		return errors.New("lanyard bench: --users and --posts must not be negative and --delete-docs must be positive")
	case *cheapHash && *url != "":
		return errors.New("lanyard bench: --cheap-hash sets the in-process server's hash cost; a server at --url has its own")
	}
	o := bench.Options{
		URL: *url, Duration: *duration, Concurrency: *concurrency, Users: *users, DeleteDocs: *deleteDocs, Posts: *posts,
		OneAddress: *oneAddress, Env: cfg, Progress: stderr,
		// The in-process server formats its request log as serve would, so that cost
		// is measured, but discards it; warnings and errors still show.
		Logger:      slog.New(teeHandler{newLogger(cfg, io.Discard).Handler(), levelFloor{Handler: log.Handler(), min: slog.LevelWarn}}),
		StoreLogger: storeLogger(cfg, log),
	}
	if *cheapHash {
		o.Hash = password.Cheap
	}
	for s := range strings.SplitSeq(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Scenarios = append(o.Scenarios, s)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("lanyard bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		o.CPUProfile = f
	}
	if *url == "" && debug.SetMemoryLimit(-1) == math.MaxInt64 {
		// The in-process server runs as serve would: with serve's soft memory limit
		// unless GOMEMLIMIT sets one (the runtime has then applied it already).
		limit := memoryLimit(runtime.NumCPU())
		debug.SetMemoryLimit(limit)
		o.Notes = append(o.Notes, fmt.Sprintf("soft memory limit %d MiB, as serve sets it (GOMEMLIMIT overrides)", limit>>20))
	}
	table := stdout
	if *jsonOut == "-" {
		table = stderr
	}
	rep, err := bench.Run(ctx, o)
	if rep == nil {
		return err
	}
	fmt.Fprintln(table)
	if werr := rep.WriteTable(table); werr != nil {
		return errors.Join(err, werr)
	}
	switch *jsonOut {
	case "":
	case "-":
		err = errors.Join(err, rep.WriteJSON(stdout))
	default:
		f, ferr := os.Create(*jsonOut)
		if ferr != nil {
			return errors.Join(err, fmt.Errorf("lanyard bench: --json: %w", ferr))
		}
		err = errors.Join(err, rep.WriteJSON(f), f.Close())
	}
	return err
}

// teeHandler hands each record to both of its handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range []slog.Handler{t.a, t.b} {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
