package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/lanyard/lanyard/internal/config"
	"github.com/lanyard/lanyard/internal/importer"
	"github.com/lanyard/lanyard/internal/store"
)

const importUsage = `usage: lanyard import --from URI --db NAME --map FILE [--dry-run] [--report FILE]

Reads an application's users (and their linked IDs) from database NAME at URI, as the
YAML map FILE names their fields, and writes them as Lanyard accounts into Lanyard's
own store (MONGODB_URI and LANYARD_DB, or the embedded store of LANYARD_DATA_DIR),
keeping each password hash, which its first login replaces with argon2id. The
application's documents are never changed. A second run imports nothing twice, and a
run stopped part-way is finished by running it again. Progress goes to stderr; the
report (imported, and every record skipped with why) to stdout, and as JSON to
--report. See docs/import.md.

flags:`

// runImport is `lanyard import`.
func runImport(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lanyard import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, importUsage)
		fs.PrintDefaults()
	}
	var (
		from    = fs.String("from", "", "the application's MongoDB URI (required)")
		db      = fs.String("db", "", "the application's database (required)")
		mapFile = fs.String("map", "", "the YAML map of the application's collections and fields (required)")
		dryRun  = fs.Bool("dry-run", false, "read and judge everything, write nothing: the report says what a run would do")
		report  = fs.String("report", "", "also write the report as JSON to this file")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("lanyard import: unexpected argument %q", fs.Arg(0))
	case *from == "" || *db == "" || *mapFile == "":
		return errors.New("lanyard import: --from, --db and --map are required (lanyard import -h)")
	}
	m, err := importer.LoadMap(*mapFile)
	if err != nil {
		return fmt.Errorf("lanyard import: %w", err)
	}
	if *db == cfg.DB {
		// The application shares Lanyard's database: its collections must not be
		// Lanyard's own, or the import would read Lanyard's accounts as its users.
		colls := []string{m.Users.Collection}
		for _, l := range m.LinkedIDs {
			colls = append(colls, l.Collection)
		}
		for _, c := range colls {
			if slices.Contains(store.OwnCollections(cfg.CollectionPrefix), c) {
				return fmt.Errorf("lanyard import: collection %q of database %q is Lanyard's own; give Lanyard a database of its own (LANYARD_DB) or a LANYARD_COLLECTION_PREFIX", c, *db)
			}
		}
	}
	src, err := importer.OpenSource(ctx, *from, *db)
	if err != nil {
		return fmt.Errorf("lanyard import: %w", err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	a, closeApp, err := adminApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeApp()
	o := importer.Options{
		Source: src.DB, Store: a.Store, Links: a.LinkIDs, Map: m, DryRun: *dryRun, Progress: stderr,
		ProfileSchema: cfg.ProfileSchema,
	}
	if k := cfg.TestImportPauseAfter; k > 0 {
		log.Warn("test-only settings in effect; never set them in a deployment", "variables", []string{"LANYARD_TEST_IMPORT_PAUSE_AFTER"})
		o.AfterStep = func(s importer.Step, n int) error {
			if s != importer.UserWritten || n < k {
				return nil
			}
			log.Warn("import paused by LANYARD_TEST_IMPORT_PAUSE_AFTER", "user", n)
			<-ctx.Done()
			return errors.New("import paused by LANYARD_TEST_IMPORT_PAUSE_AFTER until the process ended")
		}
	}
	rep, runErr := importer.Run(ctx, o)
	if *report != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(*report, append(b, '\n'), 0o600)
		}
		if err != nil {
			return errors.Join(runErr, fmt.Errorf("lanyard import: --report: %w", err))
		}
	}
	if runErr != nil {
		return runErr
	}
	rep.Print(stdout)
	return nil
}
