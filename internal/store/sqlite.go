package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// The embedded SQLite store answers only {_id: value} without reading a whole
// collection in Go (DESIGN.md). sqliteIndex answers the other questions Lanyard asks —
// which _ids have field = value, how many, in which order — from SQLite itself, through
// expression indexes on FerretDB's tables, and reads the matching rows in the same query
// (decoded by sjson.go); updates and deletes go through FerretDB, by _id. It is
// read-only towards FerretDB's data: it writes nothing but its own indexes, which
// FerretDB does not know of and drops with a table.
//
// A row of FerretDB 1.24's table is one document as "sjson": JSON whose scalars are
// plain (an ObjectId as its 24-hex string, a date as milliseconds), with the BSON types
// kept beside them under "$s".p (`{"$s":{"p":{"author_id":{"t":"objectId"},…}},…}`).
type sqliteIndex struct {
	db      *sql.DB
	queries atomic.Int64 // SQL queries run on requests' behalf (not Background), for tests
	dec     sjsonDecoder

	prefix string // the store's collection prefix: see Physical

	mu     sync.Mutex
	tables map[string]string   // collection → table, once seen
	fields map[string][]string // collection → indexed fields (each, or "a,b" for a composite)
}

func openSQLiteIndex(file, prefix string) (*sqliteIndex, error) {
	db, err := openSQLite(file)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite index: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	x := &sqliteIndex{db: db, prefix: prefix, tables: map[string]string{}, fields: map[string][]string{}}
	for coll, fs := range builtInIndexes {
		x.fields[coll] = slices.Clone(fs)
	}
	return x, nil
}

// builtInIndexes are the fields of Lanyard's own collections that are looked up by
// something other than _id. A comma joins the fields of a composite index.
var builtInIndexes = map[string][]string{
	collUsers:     {"email", "role"},
	collSessions:  {"user_id", "expires_at"},
	collLinkedIDs: {"user_id", "provider,user_id"},
	collLinkKeys:  {"user_id"},
	collAudit:     {"user_id"},
	collPasskeys:  {"user_id"},
	// The sweeps of expired documents.
	collRefreshClaims: {"expires_at"},
	collThrottle:      {"expires_at"},
	collFlows:         {"expires_at"},
	collMailClaims:    {"expires_at"},
	collOutbox:        {"next_attempt_at"}, // the sender's due mails
	collOTPClaims:     {"expires_at"},
}

func (x *sqliteIndex) close() error { return x.db.Close() }

// valueExpr is the SQL value of a top-level field; typeExpr its BSON type's name.
// Field names are validated identifiers (the relations file's rule, or Lanyard's own).
func valueExpr(field string) string { return fmt.Sprintf(`_ferretdb_sjson->>'$.%s'`, field) }
func typeExpr(field string) string {
	return fmt.Sprintf(`_ferretdb_sjson->>'$."$s".p.%s.t'`, field)
}

// indexName names Lanyard's index of fields on table.
func indexName(table, fields string) string {
	return "lanyard_f_" + table + "_" + strings.ReplaceAll(fields, ",", "_")
}

// addIndex makes field (or "a,b") of coll indexed from now on, creating the index at
// once when the collection exists.
func (x *sqliteIndex) addIndex(ctx context.Context, coll, fields string) error {
	x.mu.Lock()
	if !slices.Contains(x.fields[coll], fields) {
		x.fields[coll] = append(x.fields[coll], fields)
	}
	table, known := x.tables[coll]
	x.mu.Unlock()
	if !known {
		_, _, err := x.table(ctx, coll) // creates every index of coll when it exists
		return err
	}
	return x.createIndex(ctx, table, fields)
}

func (x *sqliteIndex) createIndex(ctx context.Context, table, fields string) error {
	var exprs []string
	for _, f := range strings.Split(fields, ",") {
		exprs = append(exprs, valueExpr(f))
	}
	_, err := x.db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`,
		indexName(table, fields), table, strings.Join(exprs, ", ")))
	if err != nil {
		return fmt.Errorf("store: sqlite index %s(%s): %w", table, fields, err)
	}
	return nil
}

// createIDIndex is EnsureIDIndexes' index: on the expression FerretDB filters _id by.
func (x *sqliteIndex) createIDIndex(ctx context.Context, table string) error {
	_, err := x.db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, "lanyard_id_"+table, table, idExpr))
	if err != nil {
		return fmt.Errorf("store: sqlite _id index of %s: %w", table, err)
	}
	return nil
}

// table returns coll's SQLite table, ok false when the collection does not exist (yet).
// The first time a table is seen, its indexes are created. FerretDB knows the table by
// the collection's name in the database, prefixed if it is one of Lanyard's (Physical).
func (x *sqliteIndex) table(ctx context.Context, coll string) (string, bool, error) {
	x.mu.Lock()
	t, ok := x.tables[coll]
	x.mu.Unlock()
	if ok {
		return t, true, nil
	}
	x.count(ctx)
	err := x.db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, Physical(x.prefix, coll)).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) || isNoSuchTable(err) || isCannotOpen(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: table of %s: %w", coll, err)
	}
	x.mu.Lock()
	fields := slices.Clone(x.fields[coll])
	x.mu.Unlock()
	if err := x.createIDIndex(ctx, t); err != nil {
		return "", false, err
	}
	for _, f := range fields {
		if err := x.createIndex(ctx, t, f); err != nil {
			return "", false, err
		}
	}
	x.mu.Lock()
	x.tables[coll] = t
	x.mu.Unlock()
	return t, true, nil
}

// count counts one query, unless it is background work (the mail sender's, a sweep's),
// which is no request's cost.
func (x *sqliteIndex) count(ctx context.Context) {
	if !IsBackground(ctx) {
		x.queries.Add(1)
	}
}

// forget drops coll's cached table after its table vanished (a dropped collection).
func (x *sqliteIndex) forget(coll string) {
	x.mu.Lock()
	delete(x.tables, coll)
	x.mu.Unlock()
}

func isNoSuchTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

func isCannotOpen(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to open database file")
}

// query runs a statement built for coll's table by build, retrying once if the table
// was dropped and made again since it was cached. A collection that does not exist
// selects nothing: rows is nil.
func (x *sqliteIndex) query(ctx context.Context, coll string, build func(table string) (string, []any), each func(rows *sql.Rows) error) error {
	for try := 0; ; try++ {
		table, ok, err := x.table(ctx, coll)
		if err != nil || !ok {
			return err
		}
		stmt, args := build(table)
		x.count(ctx)
		rows, err := x.db.QueryContext(ctx, stmt, args...)
		if isNoSuchTable(err) && try == 0 {
			x.forget(coll)
			continue
		}
		if err != nil {
			return fmt.Errorf("store: sqlite %s: %w", coll, err)
		}
		for rows.Next() {
			if err := each(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("store: sqlite %s: %w", coll, err)
		}
		return nil
	}
}

// sjsonType is the type name sjson keeps for a value Lanyard compares fields with.
func sjsonType(v any) (string, string, bool) {
	switch t := v.(type) {
	case bson.ObjectID:
		return "objectId", t.Hex(), true
	case lanyard.ID:
		return "objectId", t.Hex(), true
	case string:
		return "string", t, true
	}
	return "", "", false
}

// fromSJSON turns a scalar read from sjson back into the Go value the driver gives
// for that BSON type.
func fromSJSON(typ string, v any) (any, error) {
	switch typ {
	case "objectId":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("store: objectId stored as %T", v)
		}
		return bson.ObjectIDFromHex(s)
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "int":
		if n, ok := v.(int64); ok {
			return int32(n), nil
		}
	case "long":
		if n, ok := v.(int64); ok {
			return n, nil
		}
	}
	return nil, errUnindexable
}

// errUnindexable says a query involves a value this index does not handle (an _id of a
// type other than ObjectId, string or integer); the caller asks FerretDB instead.
var errUnindexable = errors.New("store: value not served by the sqlite index")

// idRef is one matching document: its _id and the value of the field that matched.
type idRef struct {
	ID    any
	Field any
	Doc   []byte // the document's sjson, when asked for
}

// childRefs answers a ChildQuery with the _ids (and parent values) it selects, in
// _id order. Parents are grouped by type, so that an ObjectId never matches its hex
// string, as on MongoDB.
func (x *sqliteIndex) childRefs(ctx context.Context, q ChildQuery) ([]idRef, error) {
	groups := map[string][]any{}
	for _, p := range q.Parents {
		typ, val, ok := sjsonType(p)
		if !ok {
			return nil, errUnindexable
		}
		groups[typ] = append(groups[typ], val)
	}
	if q.After != nil {
		if _, _, ok := sjsonType(q.After); !ok {
			return nil, errUnindexable
		}
	}
	var out []idRef
	for _, typ := range slices.Sorted(maps.Keys(groups)) {
		vals := groups[typ]
		err := x.query(ctx, q.Coll, func(table string) (string, []any) {
			return childStmt(table, q, typ, vals)
		}, func(rows *sql.Rows) error {
			var rawID any
			var idType sql.NullString
			var field string
			var doc []byte
			if err := rows.Scan(&rawID, &idType, &field, &doc); err != nil {
				return err
			}
			id, err := fromSJSON(idType.String, rawID)
			if err != nil {
				return err
			}
			fv, err := fromSJSON(typ, field)
			if err != nil {
				return err
			}
			out = append(out, idRef{ID: id, Field: fv, Doc: doc})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(groups) > 1 {
		slices.SortStableFunc(out, func(a, b idRef) int {
			c := strings.Compare(idKey(a.ID), idKey(b.ID))
			if q.Newest {
				return -c
			}
			return c
		})
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
	}
	if q.PerParent > 0 {
		out = capPerParent(out, q.PerParent)
	}
	return out, nil
}

// childStmt selects the children of parents vals of type typ, ordered by _id.
func childStmt(table string, q ChildQuery, typ string, vals []any) (string, []any) {
	doc := ", NULL"
	if !q.IDsOnly {
		doc = ", _ferretdb_sjson"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `SELECT _ferretdb_sjson->>'$._id', %s, %s%s FROM %q WHERE %s IN (%s) AND %s = ?`,
		typeExpr("_id"), valueExpr(q.Field), doc, table, valueExpr(q.Field), placeholders(len(vals)), typeExpr(q.Field))
	args := append(slices.Clone(vals), typ)
	if q.After != nil {
		_, after, _ := sjsonType(q.After)
		b.WriteString(` AND _ferretdb_sjson->>'$._id' > ?`)
		args = append(args, after)
	}
	b.WriteString(` ORDER BY 1`)
	if q.Newest {
		b.WriteString(` DESC`)
	}
	if q.Limit > 0 {
		b.WriteString(` LIMIT ?`)
		args = append(args, q.Limit)
	}
	return b.String(), args
}

// expired returns the _ids of coll's documents whose expires_at (a date) is at or
// before now.
func (x *sqliteIndex) expired(ctx context.Context, coll string, now time.Time) ([]any, error) {
	var out []any
	err := x.query(ctx, coll, func(table string) (string, []any) {
		return expiredStmt(table, now)
	}, func(rows *sql.Rows) error {
		var rawID any
		var idType string
		if err := rows.Scan(&rawID, &idType); err != nil {
			return err
		}
		id, err := fromSJSON(idType, rawID)
		out = append(out, id)
		return err
	})
	return out, err
}

func expiredStmt(table string, now time.Time) (string, []any) {
	return fmt.Sprintf(`SELECT _ferretdb_sjson->>'$._id', %s FROM %q WHERE %s <= ? AND %s = 'date'`,
		typeExpr("_id"), table, valueExpr("expires_at"), typeExpr("expires_at")), []any{now.UnixMilli()}
}

// countChildren counts what a ChildQuery selects.
func (x *sqliteIndex) countChildren(ctx context.Context, q ChildQuery) (int64, error) {
	q.After, q.Limit, q.PerParent = nil, 0, 0
	groups := map[string][]any{}
	for _, p := range q.Parents {
		typ, val, ok := sjsonType(p)
		if !ok {
			return 0, errUnindexable
		}
		groups[typ] = append(groups[typ], val)
	}
	var total int64
	for typ, vals := range groups {
		err := x.query(ctx, q.Coll, func(table string) (string, []any) {
			return fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s IN (%s) AND %s = ?`,
				table, valueExpr(q.Field), placeholders(len(vals)), typeExpr(q.Field)), append(slices.Clone(vals), typ)
		}, func(rows *sql.Rows) error {
			var n int64
			err := rows.Scan(&n)
			total += n
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// docs runs a statement build makes for coll's table that selects one column, the
// rows' sjson, and returns the rows.
func (x *sqliteIndex) docs(ctx context.Context, coll string, build func(table string) (string, []any)) ([][]byte, error) {
	var out [][]byte
	err := x.query(ctx, coll, build, func(rows *sql.Rows) error {
		var doc []byte
		err := rows.Scan(&doc)
		out = append(out, doc)
		return err
	})
	return out, err
}

// page reads the rows of a page of coll's documents with ObjectId _ids after after
// (the zero ID: from the start), ascending, at most limit (-1: no limit), through the
// _id index; with field set, only those whose field equals the string value.
func (x *sqliteIndex) page(ctx context.Context, coll string, after lanyard.ID, limit int, field, value string) ([][]byte, error) {
	return x.docs(ctx, coll, func(table string) (string, []any) { return pageStmt(table, after, limit, field, value) })
}

// byIDs reads the rows of coll's documents with these ObjectId _ids, in _id order.
func (x *sqliteIndex) byIDs(ctx context.Context, coll string, ids []lanyard.ID) ([][]byte, error) {
	return x.docs(ctx, coll, func(table string) (string, []any) { return byIDsStmt(table, ids) })
}

// decode turns a row the index read into the document as FerretDB answers it.
func (x *sqliteIndex) decode(row []byte) (bson.Raw, error) { return x.dec.decode(row) }

// byIDsStmt selects the documents with these ObjectId _ids, in _id order.
func byIDsStmt(table string, ids []lanyard.ID) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = `"` + id.Hex() + `"`
	}
	return fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q WHERE %s IN (%s) AND %s = 'objectId' ORDER BY %s`,
		table, idExpr, placeholders(len(ids)), typeExpr("_id"), idExpr), args
}

// pageStmt selects a page of documents with ObjectId _ids after after (NoID: from the
// start), ascending, through the _id index; with field set, only those whose field
// equals the string value.
func pageStmt(table string, after lanyard.ID, limit int, field, value string) (string, []any) {
	// The _id index is on FerretDB's own expression, which yields JSON text: an
	// ObjectId as its quoted hex, which orders as the ObjectId does.
	start := `""`
	if !after.IsZero() {
		start = `"` + after.Hex() + `"`
	}
	where, args := "", []any{start}
	if field != "" {
		where = fmt.Sprintf(` AND %s = ?`, valueExpr(field))
		args = append(args, value)
	}
	return fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q WHERE %s > ? AND %s = 'objectId'%s ORDER BY %s LIMIT ?`,
		table, idExpr, typeExpr("_id"), where, idExpr), append(args, limit)
}

// usersWithProvider is UsersWithProvider through the (provider, user_id) index.
func (x *sqliteIndex) usersWithProvider(ctx context.Context, provider string, after lanyard.ID, limit int) ([]lanyard.ID, error) {
	var out []lanyard.ID
	err := x.query(ctx, collLinkedIDs, func(table string) (string, []any) {
		return providerStmt(table, provider, after, limit)
	}, func(rows *sql.Rows) error {
		var hex string
		if err := rows.Scan(&hex); err != nil {
			return err
		}
		id, err := bson.ObjectIDFromHex(hex)
		out = append(out, lanyard.ID(id))
		return err
	})
	return out, err
}

func providerStmt(table, provider string, after lanyard.ID, limit int) (string, []any) {
	return fmt.Sprintf(`SELECT DISTINCT %s FROM %q WHERE %s = ? AND %s > ? ORDER BY 1 LIMIT ?`,
		valueExpr("user_id"), table, valueExpr("provider"), valueExpr("user_id")), []any{provider, hexOrEmpty(after), limit}
}

// holdsProvider reports whether userID holds a linked ID of provider.
func (x *sqliteIndex) holdsProvider(ctx context.Context, userID lanyard.ID, provider string) (bool, error) {
	found := false
	err := x.query(ctx, collLinkedIDs, func(table string) (string, []any) {
		return holdsStmt(table, provider, userID)
	}, func(*sql.Rows) error {
		found = true
		return nil
	})
	return found, err
}

func holdsStmt(table, provider string, userID lanyard.ID) (string, []any) {
	return fmt.Sprintf(`SELECT 1 FROM %q WHERE %s = ? AND %s = ? LIMIT 1`,
		table, valueExpr("provider"), valueExpr("user_id")), []any{provider, userID.Hex()}
}

// otherAdmin reports whether an active admin other than id exists.
func (x *sqliteIndex) otherAdmin(ctx context.Context, id lanyard.ID) (bool, error) {
	found := false
	err := x.query(ctx, collUsers, func(table string) (string, []any) {
		return otherAdminStmt(table, id)
	}, func(*sql.Rows) error {
		found = true
		return nil
	})
	return found, err
}

func otherAdminStmt(table string, id lanyard.ID) (string, []any) {
	return fmt.Sprintf(`SELECT 1 FROM %q WHERE %s = ? AND %s = ? AND %s <> ? LIMIT 1`,
		table, valueExpr("role"), valueExpr("status"), valueExpr("_id")), []any{string(lanyard.RoleAdmin), string(lanyard.StatusActive), id.Hex()}
}

// countType counts the documents of coll whose field holds a value of type typ.
func (x *sqliteIndex) countType(ctx context.Context, coll, field, typ string) (int64, error) {
	var n int64
	err := x.query(ctx, coll, func(table string) (string, []any) {
		return fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s = ?`, table, typeExpr(field)), []any{typ}
	}, func(rows *sql.Rows) error { return rows.Scan(&n) })
	return n, err
}

// explain returns SQLite's plan for the statement build makes for coll's table.
func (x *sqliteIndex) explain(ctx context.Context, coll string, build func(table string) (string, []any)) (string, error) {
	plan := ""
	err := x.query(ctx, coll, func(table string) (string, []any) {
		stmt, args := build(table)
		return "EXPLAIN QUERY PLAN " + stmt, args
	}, func(rows *sql.Rows) error {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return err
		}
		plan += detail + "\n"
		return nil
	})
	return plan, err
}

// plans explains every statement shape the index runs: the children of declared
// relations (coll and field pairs) and of the built-ins, the pages of users by _id and
// by email, and the users of a provider.
func (x *sqliteIndex) plans(ctx context.Context, rels [][2]string) (map[string]string, error) {
	oid := NewID()
	type shape struct {
		coll  string
		build func(table string) (string, []any)
	}
	shapes := map[string]shape{
		"users page":          {collUsers, func(t string) (string, []any) { return pageStmt(t, oid, 100, "", "") }},
		"users by ids":        {collUsers, func(t string) (string, []any) { return byIDsStmt(t, []lanyard.ID{oid, oid}) }},
		"users by email":      {collUsers, func(t string) (string, []any) { return pageStmt(t, lanyard.ID{}, 100, "email", "a@example.com") }},
		"users with provider": {collLinkedIDs, func(t string) (string, []any) { return providerStmt(t, "google", oid, 100) }},
		"holds provider":      {collLinkedIDs, func(t string) (string, []any) { return holdsStmt(t, "google", oid) }},
		"other admin":         {collUsers, func(t string) (string, []any) { return otherAdminStmt(t, oid) }},
	}
	shapes["due mails"] = shape{collOutbox, func(t string) (string, []any) { return dueStmt(t, time.Now(), 50) }}
	for _, coll := range []string{collSessions, collRefreshClaims, collThrottle} {
		shapes[coll+" expired"] = shape{coll, func(t string) (string, []any) { return expiredStmt(t, time.Now()) }}
	}
	for _, coll := range []string{collSessions, collLinkedIDs, collLinkKeys, collAudit} {
		rels = append(rels, [2]string{coll, "user_id"})
	}
	for _, r := range rels {
		q := ChildQuery{Coll: r[0], Field: r[1], Newest: true}
		shapes[r[0]+"."+r[1]] = shape{r[0], func(t string) (string, []any) { return childStmt(t, q, "objectId", []any{oid.Hex(), oid.Hex()}) }}
	}
	out := map[string]string{}
	for name, sh := range shapes {
		p, err := x.explain(ctx, sh.coll, sh.build)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

func hexOrEmpty(id lanyard.ID) string {
	if id.IsZero() {
		return ""
	}
	return id.Hex()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// idKey orders _ids as the SQL does (hex for ObjectIds).
func idKey(v any) string {
	if oid, ok := v.(bson.ObjectID); ok {
		return oid.Hex()
	}
	return fmt.Sprint(v)
}

// capPerParent keeps, in order, at most n refs per parent value.
func capPerParent(refs []idRef, n int) []idRef {
	seen := map[string]int{}
	out := refs[:0]
	for _, r := range refs {
		k := idKey(r.Field)
		if seen[k] < n {
			seen[k]++
			out = append(out, r)
		}
	}
	return out
}
