package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // database/sql driver; FerretDB's SQLite backend uses the same one
)

// idExpr is the expression FerretDB 1.24 writes for a filter on _id
// (`_ferretdb_sjson->'$._id' = ?`, backends/sqlite/collection.go). Its own _id index is
// on `_ferretdb_sjson->"_id"`, which SQLite does not match to that expression, so every
// lookup by _id scans the table. An index on exactly this expression is used.
const idExpr = `_ferretdb_sjson->'$._id'`

// openSQLite opens the embedded store's file beside FerretDB: read-write, in its WAL
// mode, waiting for FerretDB's writers rather than failing.
func openSQLite(file string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("mode", "rw")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(wal)")
	return sql.Open("sqlite", (&url.URL{Scheme: "file", Opaque: filepath.ToSlash(file), RawQuery: q.Encode()}).String())
}

// SQLiteFile is where the embedded store keeps database db under dir.
func SQLiteFile(dir, db string) string { return filepath.Join(dir, db+".sqlite") }

// EnsureIDIndexes adds the _id expression index to the SQLite table of every listed
// collection that exists (named as in the database: OwnCollections gives Lanyard's
// under a prefix), through the embedded store's own SQLite file. It is
// idempotent and cheap once done, so it can run whenever collections may have appeared.
// It reports how many indexes it created. Only for the embedded SQLite store: FerretDB
// does not know these indexes, and drops them with their tables.
func EnsureIDIndexes(ctx context.Context, file string, collections []string) (int, error) {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return 0, nil // no collection yet
	}
	db, err := openSQLite(file)
	if err != nil {
		return 0, fmt.Errorf("id indexes: %w", err)
	}
	defer db.Close()
	created := 0
	for _, coll := range collections {
		var table string
		err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return created, fmt.Errorf("id indexes: table of %s: %w", coll, err)
		}
		name := "lanyard_id_" + table
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&n); err != nil {
			return created, fmt.Errorf("id indexes: %w", err)
		}
		if n > 0 {
			continue
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, name, table, idExpr)); err != nil {
			return created, fmt.Errorf("id indexes: %s: %w", coll, err)
		}
		created++
	}
	return created, nil
}

// IDLookupPlan returns SQLite's plan for the query FerretDB runs to find a document of
// coll by _id. Tests use it to prove the index is used.
func IDLookupPlan(ctx context.Context, file, coll string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var table string
	if err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
		return "", fmt.Errorf("table of %s: %w", coll, err)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE %s = ?`, table, idExpr), `{"$o":"000000000000000000000000"}`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	plan := ""
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan += detail + "\n"
	}
	return plan, rows.Err()
}

// Collections lists Lanyard's own collections, the ones whose _id lookups are hot, by
// the names the code uses. It is the one list: LANYARD_COLLECTION_PREFIX applies to
// every name on it (Physical), and the relations file may not name any (OwnsCollection).
func Collections() []string {
	return []string{collUsers, collUserKeys, collSessions, collLinkedIDs, collLinkKeys, collAudit, collJobs, collClaims, collRefreshClaims, collThrottle, collFlows, collClients, collSigningKeys, collOutbox, collMailClaims, collImports, collPasskeys, collOTPClaims}
}
