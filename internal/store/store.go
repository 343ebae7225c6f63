// Package store owns Lanyard's connection to MongoDB (or to the embedded
// MongoDB-protocol store), its collections, indexes and the translation of driver
// errors. Callers use its methods with the domain types of package lanyard and never
// build filters, so the collection layout can change in one place.
//
// Each entity file (users.go, userkeys.go, sessions.go, linkedids.go, jobs.go,
// throttle.go, audit.go, admins.go, relations.go) holds its private documents, its
// filters and the order of its writes. What the embedded store lacks is made up for
// in files of their own, which the entity code reaches only through their
// primitives: claims.go (claim, claimed, claimKey, dropKey: decisions by a unique
// _id), serialize.go (lock, lockKey, updateByID, modifyByID, swapByID: this process's
// updates of one document in order, and a compare-and-set), serialwrites.go (keyed,
// writeEach: one connection for single-document writes, many documents by _id), sqlite.go with sjson.go (queries other
// than by _id answered by SQLite indexes) and sqliteindex.go (the _id index).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/lanyard/lanyard"
)

// Collection names. Each collection Lanyard keeps is declared as a name of its own
// (here or in its entity's file) and listed in Collections; every name on that list is
// prefixed with Options.CollectionPrefix when the store addresses it (database.Collection,
// the one lookup), so a collection added to the list is prefixed with no more code.
const (
	collUsers    = "users"
	collSessions = "sessions"
)

// database is a *mongo.Database whose Collection puts the store's prefix before the
// name of each of Lanyard's own collections (Collections) and leaves any other name
// (an application's, from the relations file) as it is.
type database struct {
	*mongo.Database
	prefix string
}

// Collection is the collection named name as Lanyard stores it.
func (d database) Collection(name string, opts ...options.Lister[options.CollectionOptions]) *mongo.Collection {
	return d.Database.Collection(Physical(d.prefix, name), opts...)
}

// Physical is the name collection name has in the database under prefix: prefix+name
// for one of Lanyard's own collections (Collections), name itself for any other.
func Physical(prefix, name string) string {
	if prefix != "" && slices.Contains(Collections(), name) {
		return prefix + name
	}
	return name
}

// OwnCollections are the names Lanyard's own collections have in a database under
// prefix, as EnsureIDIndexes wants them.
func OwnCollections(prefix string) []string {
	out := Collections()
	for i, c := range out {
		out[i] = Physical(prefix, c)
	}
	return out
}

// CommandMonitor observes the store's commands (the driver's type: tests count the
// commands and read their filters through it).
type CommandMonitor = event.CommandMonitor

// Options tune a connection.
type Options struct {
	// Monitor, when set, sees every command (tests count them).
	Monitor *CommandMonitor
	// Logger, when it is enabled at debug, gets one line per command (logCommands);
	// nil: none.
	Logger *slog.Logger
	// OnError, when set, is told of every failed store operation other than the
	// expected ones (not found, duplicate key, cancelled by the caller).
	OnError func(op string)
	// OnForeign, when set, is told of every document of one of Lanyard's collections
	// that was skipped as not Lanyard's (ErrForeign), by the collection's name.
	OnForeign func(coll string)
	// SerialWrites sends this process's single-document writes through one
	// connection, one at a time. Set it on the embedded store's SQLite backend, which
	// lets one writer at a time into the file: writers that collide there wait in
	// SQLite's busy handler, which sleeps in steps of up to 100 ms, so a few
	// concurrent writes cost the latency of many. Queued in the driver, they cost
	// only their own time. Writes that first read a whole collection (deletes and
	// updates by a filter other than _id) keep their own connections, so that a long
	// sweep does not hold every keyed write behind it.
	SerialWrites bool
	// CollectionPrefix is put before the name of every collection Lanyard keeps
	// (LANYARD_COLLECTION_PREFIX), so that it can share a database with the
	// application's own collections of the same names.
	CollectionPrefix string
	// SQLiteFile is the embedded store's SQLite file of this database, when the store
	// is the embedded one on SQLite: queries other than by _id are then answered
	// through SQLite indexes (sqlite.go).
	SQLiteFile string
}

// Store is a connection to one Lanyard database.
type Store struct {
	client    *mongo.Client
	db        database
	wclient   *mongo.Client // client of w: client itself, or one with a single connection (Options.SerialWrites)
	w         database      // where keyed writes go: see keyed
	prefix    string        // Options.CollectionPrefix
	stripes   *stripes      // set on FerretDB: see serialize.go
	lite      *sqliteIndex  // set on the embedded SQLite store: see sqlite.go
	onError   func(op string)
	onForeign func(coll string)
}

// Open connects to uri and uses database name. It does not wait for the server: the
// first operation does, within its context's deadline, so a store that is down at
// start-up shows up as 503s and an unready /readyz rather than a hang.
func Open(ctx context.Context, uri, name string, o Options) (*Store, error) {
	clientOptions := func() *options.ClientOptions {
		co := options.Client().ApplyURI(uri).
			SetServerSelectionTimeout(3 * time.Second).
			SetConnectTimeout(3 * time.Second).
			SetAppName("lanyard").
			SetLoggerOptions(driverLogOff())
		if m := logCommands(o.Logger, o.Monitor); m != nil {
			co.SetMonitor(m)
		}
		return co
	}
	client, err := mongo.Connect(clientOptions())
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	wclient := client
	if o.SerialWrites {
		if wclient, err = mongo.Connect(clientOptions().SetMaxPoolSize(1)); err != nil {
			_ = client.Disconnect(ctx)
			return nil, fmt.Errorf("store: connect: %w", err)
		}
	}
	st := &Store{
		client: client, db: database{client.Database(name), o.CollectionPrefix},
		wclient: wclient, w: database{wclient.Database(name), o.CollectionPrefix},
		prefix: o.CollectionPrefix, onError: o.OnError, onForeign: o.OnForeign,
	}
	if o.SQLiteFile != "" {
		if st.lite, err = openSQLiteIndex(o.SQLiteFile, o.CollectionPrefix); err != nil {
			_ = st.Close(ctx)
			return nil, err
		}
	}
	return st, nil
}

// driverLogOff is the driver's logging, off whatever the environment says. With
// MONGODB_LOG_ALL or MONGODB_LOG_COMMAND set, the driver would log every command with
// its documents (hashes, emails, ciphertexts) to stderr or MONGODB_LOG_PATH; Lanyard's
// logs hold no document. A component given a level no longer reads its variable, and
// a sink of its own stops MONGODB_LOG_PATH from opening a file.
func driverLogOff() *options.LoggerOptions {
	const off = options.LogLevel(0) // the driver's LevelOff, which it does not export
	lo := options.Logger().SetSink(discardSink{})
	for _, c := range []options.LogComponent{options.LogComponentCommand, options.LogComponentTopology, options.LogComponentServerSelection, options.LogComponentConnection} {
		lo.SetComponentLevel(c, off)
	}
	return lo
}

type discardSink struct{}

func (discardSink) Info(int, string, ...any)    {}
func (discardSink) Error(error, string, ...any) {}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error {
	err := s.client.Disconnect(ctx)
	if s.wclient != s.client {
		err = errors.Join(err, s.wclient.Disconnect(ctx))
	}
	if s.lite != nil {
		err = errors.Join(err, s.lite.close())
	}
	return err
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.translate("ping", s.client.Ping(ctx, readpref.Primary()))
}

// Drop removes the whole database. Tests use it to clean up after themselves.
func (s *Store) Drop(ctx context.Context) error {
	return s.translate("drop database", s.db.Drop(ctx))
}

// EnsureIndexes learns what kind of server this is and creates Lanyard's indexes. It
// is idempotent, so every instance runs it at start-up.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := s.detectFerretDB(ctx); err != nil {
		return err
	}
	specs := []indexSpec{
		// Every unique index is sparse: a document without the field (one of the
		// application's, in a database shared without a prefix) is no duplicate.
		{collUsers, "email_unique", []string{"email"}, true, true, false},
		{collUsers, "username_key_unique", []string{"username_key"}, true, true, false},
		{collUsers, "role", []string{"role"}, false, false, false}, // the last-admin check
		{collSessions, "user_id", []string{"user_id"}, false, false, false},
		{collLinkedIDs, "lookup_unique", []string{"lookup"}, true, true, false},
		{collLinkedIDs, "user_id", []string{"user_id"}, false, false, false},
		{collLinkedIDs, "provider_user_id", []string{"provider", "user_id"}, false, false, false}, // the admin list by provider
		{collLinkKeys, "user_id", []string{"user_id"}, false, false, false},                       // a deleted user's keys
		{collAudit, "user_id", []string{"user_id"}, false, false, false},
		{collJobs, "lease_until", []string{"lease_until"}, false, false, false},
		{collOutbox, "next_attempt_at", []string{"next_attempt_at"}, false, false, false},    // the sender's due mails
		{collPasskeys, "user_id", []string{"user_id"}, false, false, false},                  // chain delete, export
		{collPasskeys, "credential_id_unique", []string{"credential_id"}, true, true, false}, // one account per credential
	}
	for _, sp := range specs {
		if err := s.ensureIndex(ctx, sp); err != nil {
			return err
		}
	}
	return nil
}

// Raw returns the underlying database. Only tests use it, to inspect documents as
// they are stored.
func (s *Store) Raw() *mongo.Database { return s.db.Database }

// OwnsCollection reports whether name, as it is in the database, is one of Lanyard's
// own collections: with a prefix, the prefixed names are Lanyard's (and the bare
// names, which the store's lookup prefixes, stay reserved too).
func (s *Store) OwnsCollection(name string) bool {
	return slices.Contains(Collections(), name) || slices.Contains(OwnCollections(s.prefix), name)
}

// NewID returns a fresh id. Its bytes are an ObjectId's (a time, a process and a
// counter), which is how every document id is stored: making ids is the store's
// business, the domain only compares and prints them.
func NewID() lanyard.ID { return lanyard.ID(bson.NewObjectID()) }

// byID is the filter of one document by its ObjectId _id: the one filter the
// embedded store answers without reading the whole collection.
func byID(id lanyard.ID) bson.D { return bson.D{{Key: "_id", Value: bson.ObjectID(id)}} }

// Millis truncates t to what MongoDB stores (milliseconds, UTC), so that a value held
// in memory equals the value read back.
func Millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

type backgroundKey struct{}

// Background marks ctx as work done off any request's path (tidying, sweeps), so that
// what measures a request's cost can leave it out.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}
