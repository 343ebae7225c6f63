// Package importer brings an application's existing users into Lanyard: `lanyard
// import` reads the application's collections as a Map describes them — never
// changing them — and writes Lanyard accounts through the store's normal write
// paths (the email and username claims registration makes, linked IDs sealed,
// hashed and claimed by linkid), each keeping the password hash it had, which its
// first login replaces with argon2id.
//
// A run is idempotent and resumable: every source record's outcome is kept in the
// store's imports collection, the Lanyard id of a user record before its account is
// written, so a rerun — after a crash at any point — writes the same accounts,
// imports nothing twice and reports the same skips.
package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/account"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/password"
	"github.com/lanyard/lanyard/internal/profile"
	"github.com/lanyard/lanyard/internal/store"
)

// Why a source record was skipped: what the report says, never the value itself.
const (
	DuplicateEmail    = "duplicate email"
	DuplicateUsername = "duplicate username"
	InvalidEmail      = "invalid email"
	InvalidUsername   = "invalid username"
	NoPasswordHash    = "no password hash"
	UnknownHashFormat = "unknown hash format"
	NoID              = "no id"
	IDHeldByOther     = "id held by another account"
	UserNotImported   = "user not imported"
	InvalidProvider   = "invalid provider"
	InvalidExternalID = "invalid external id"
	ExternalIDHeld    = "external ID held by an earlier account"
	TooManyLinkedIDs  = "too many linked ids"
)

// Options are an import's parts.
type Options struct {
	Source *mongo.Database // the application's database: only read
	Store  *store.Store    // Lanyard's
	Links  *linkid.Service
	Map    Map
	// ProfileSchema is what a profile must meet (LANYARD_PROFILE_SCHEMA); nil: only
	// the size and field names that every profile must have.
	ProfileSchema *profile.Schema
	// DryRun reads and judges everything and writes nothing: the report says what
	// a run would do.
	DryRun bool
	Now    func() time.Time // nil: time.Now
	// Progress gets a line every ProgressEvery documents and at the end of each
	// collection; nil: none.
	Progress io.Writer
	// AfterStep, when set, runs after each step of a record's import that a crash
	// could follow, for the n-th user or linked ID document (from 1) read in this run;
	// an error stops the import there as a crash would. Tests use it.
	AfterStep func(s Step, n int) error
}

// Step is a point in a record's import after which a crash leaves something for the
// next run to finish.
type Step string

// Steps, in order.
const (
	UserRecorded Step = "user id recorded" // its Lanyard id is in imports; no account yet
	UserWritten  Step = "user written"     // the account is written; the record not yet done
	LinkWritten  Step = "link written"     // the linked ID is written; the record not yet done
)

// ProgressEvery is how many documents pass between two progress lines.
const ProgressEvery = 100

// Report is what a run did.
type Report struct {
	DryRun    bool   `json:"dry_run"`
	Users     Counts `json:"users"`
	LinkedIDs Counts `json:"linked_ids"`
	// Skipped lists every source record that was not imported, and why.
	Skipped []Skip `json:"skipped"`
	// Dropped lists profile fields (and custom profile fields, as profile.<name>)
	// left out of an imported account because their values break Lanyard's rules or
	// the profile schema (the account itself is imported).
	Dropped []Drop `json:"fields_dropped"`
}

// Counts are a collection's documents read and what came of them.
type Counts struct {
	Read            int `json:"read"`
	Imported        int `json:"imported"`
	AlreadyImported int `json:"already_imported"`
	Skipped         int `json:"skipped"`
}

// Skip is one source record not imported.
type Skip struct {
	Collection string `json:"collection"`
	SourceID   string `json:"source_id"`
	Reason     string `json:"reason"`
}

// Drop is one field left out of an imported account.
type Drop struct {
	Collection string `json:"collection"`
	SourceID   string `json:"source_id"`
	Field      string `json:"field"`
	Reason     string `json:"reason"`
}

// Run imports what o.Map names and returns the report, also when it stops on an
// error (with the counts so far).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	r := &run{Options: o, rep: &Report{DryRun: o.DryRun, Skipped: []Skip{}, Dropped: []Drop{}},
		dryUsers: map[string]lanyard.ID{}, dryKeys: map[string]bool{}, dryLinks: map[string]bool{}}
	if err := r.each(ctx, o.Map.Users.Collection, &r.rep.Users, r.user); err != nil {
		return r.rep, err
	}
	for _, lm := range o.Map.LinkedIDs {
		if err := r.each(ctx, lm.Collection, &r.rep.LinkedIDs, func(ctx context.Context, id bson.RawValue, doc bson.Raw) (string, error) {
			return r.link(ctx, lm, id, doc)
		}); err != nil {
			return r.rep, err
		}
	}
	return r.rep, nil
}

type run struct {
	Options
	rep          *Report
	users, links int // documents read so far, for AfterStep
	// A dry run writes nothing, so it remembers here what it would have written:
	// the users' ids by source key, the emails and usernames they claim, the
	// external IDs linked.
	dryUsers map[string]lanyard.ID
	dryKeys  map[string]bool
	dryLinks map[string]bool
}

// outcome of one document: "" imported, already for a rerun's, else a skip reason.
const already = "\x00already"

// each reads coll in _id order and hands every document to do, counting outcomes.
func (r *run) each(ctx context.Context, coll string, c *Counts, do func(context.Context, bson.RawValue, bson.Raw) (string, error)) error {
	src := r.Source.Collection(coll)
	total, err := src.CountDocuments(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("import: count %s: %w", coll, err)
	}
	// Sorted by _id, so that of two records claiming one email or external ID the
	// same one is first on every run.
	cur, err := src.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("import: read %s: %w", coll, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	progress := func() {
		fmt.Fprintf(r.Progress, "import: %s: %d of %d read, %d imported, %d already imported, %d skipped\n",
			coll, c.Read, total, c.Imported, c.AlreadyImported, c.Skipped)
	}
	for cur.Next(ctx) {
		doc := cur.Current
		c.Read++
		id := doc.Lookup("_id")
		outcome, err := do(ctx, id, doc)
		if err != nil {
			return fmt.Errorf("import: %s %s: %w", coll, describe(id), err)
		}
		switch outcome {
		case "":
			c.Imported++
		case already:
			c.AlreadyImported++
		default:
			c.Skipped++
			r.rep.Skipped = append(r.rep.Skipped, Skip{Collection: coll, SourceID: describe(id), Reason: outcome})
		}
		if c.Read%ProgressEvery == 0 {
			progress()
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("import: read %s: %w", coll, err)
	}
	progress()
	return nil
}

// user imports one user document.
func (r *run) user(ctx context.Context, _ bson.RawValue, doc bson.Raw) (string, error) {
	m := r.Map.Users
	r.users++
	idv, ok := lookup(doc, m.ID)
	if !ok {
		return NoID, nil
	}
	key := SourceKey(m.Collection, idv)
	rec, err := r.record(ctx, key)
	if err != nil {
		return "", err
	}
	if rec.Done {
		return already, nil
	}
	in := account.Imported{Email: text(doc, m.Email), Username: text(doc, m.Username)}
	for name, f := range m.Fields {
		v := text(doc, f)
		switch name {
		case "first_name":
			in.FirstName = v
		case "last_name":
			in.LastName = v
		case "contact":
			in.Contact = v
		case "birthday":
			in.Birthday = v
		}
	}
	now := r.Now()
	u, bad := account.PrepareImport(in, now)
	for _, f := range bad.Fields {
		switch f.Location {
		case "email":
			return InvalidEmail, nil
		case "username":
			return InvalidUsername, nil
		}
	}
	for _, f := range bad.Fields {
		r.rep.Dropped = append(r.rep.Dropped, Drop{Collection: m.Collection, SourceID: describe(idv), Field: f.Location, Reason: f.Message})
		switch f.Location {
		case "first_name":
			u.FirstName = ""
		case "last_name":
			u.LastName = ""
		case "contact":
			u.Contact = ""
		case "birthday":
			u.Birthday = ""
		}
	}
	u.Profile = r.profileOf(doc, idv)
	hash, ok := hashOf(doc, m.PasswordHash)
	if !ok {
		return NoPasswordHash, nil
	}
	if password.Check(hash) != nil {
		return UnknownHashFormat, nil
	}
	u.PasswordHash = hash
	u.CreatedAt = store.Millis(createdAt(doc, m.CreatedAt, idv, now))
	if r.DryRun {
		return r.dryUser(ctx, key, idv, rec, u)
	}
	if rec.UserID.IsZero() {
		if rec, err = r.Store.ClaimImport(ctx, key, lanyardID(idv), now); err != nil {
			return "", err
		}
	}
	if err := r.step(UserRecorded, r.users); err != nil {
		return "", err
	}
	u.ID = rec.UserID
	switch held, err := r.Store.UserByID(ctx, u.ID); {
	case err == nil && held.Email == u.Email:
		// Written by an interrupted run, which stopped before marking it done.
		return "", r.Store.ImportDone(ctx, key)
	case err == nil:
		return IDHeldByOther, nil
	case !errors.Is(err, lanyard.ErrNotFound):
		return "", err
	}
	if err := r.Store.InsertUser(ctx, &u, now); err != nil {
		var dup *store.DuplicateError
		if errors.As(err, &dup) {
			if len(dup.Keys) > 0 && dup.Keys[0] == "username" {
				return DuplicateUsername, nil
			}
			return DuplicateEmail, nil
		}
		return "", err
	}
	if err := r.step(UserWritten, r.users); err != nil {
		return "", err
	}
	return "", r.Store.ImportDone(ctx, key)
}

func (r *run) step(s Step, n int) error {
	if r.AfterStep == nil {
		return nil
	}
	return r.AfterStep(s, n)
}

// profileOf copies the fields the map's profile names from doc into a custom
// profile, each under its own name (a nested one under its last part) as a JSON
// value: a date as RFC 3339, an ObjectId as its hex, anything else as relaxed
// Extended JSON. A field the profile schema refuses is left out and reported in
// Dropped; so is the whole profile when it is larger than profile.MaxBytes. nil:
// nothing to copy.
func (r *run) profileOf(doc bson.Raw, id bson.RawValue) map[string]any {
	m := r.Map.Users
	p := map[string]any{}
	for _, name := range m.Profile {
		v, ok := lookup(doc, name)
		if !ok {
			continue
		}
		j, err := jsonValue(v)
		if err != nil {
			r.drop(id, "profile."+lastPart(name), "is not a JSON value")
			continue
		}
		p[lastPart(name)] = j
	}
	for _, fe := range r.ProfileSchema.Check("profile", p) {
		name, ok := strings.CutPrefix(fe.Location, "profile.")
		if !ok {
			r.drop(id, "profile", fe.Message)
			return nil
		}
		top, _, _ := strings.Cut(name, ".")
		if _, held := p[top]; held {
			delete(p, top)
			r.drop(id, "profile."+top, fe.Message)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func (r *run) drop(id bson.RawValue, field, reason string) {
	r.rep.Dropped = append(r.rep.Dropped, Drop{Collection: r.Map.Users.Collection, SourceID: describe(id), Field: field, Reason: reason})
}

func lastPart(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// jsonValue is v as the JSON value a profile holds (what encoding/json decodes
// with UseNumber).
func jsonValue(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeDateTime:
		return v.Time().UTC().Format(time.RFC3339Nano), nil
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), nil
	}
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out map[string]any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out["v"], nil
}

// dryUser judges u as user would write it, against the store and what this dry run
// would have written before it.
func (r *run) dryUser(ctx context.Context, key string, idv bson.RawValue, rec store.ImportRecord, u lanyard.User) (string, error) {
	u.ID = rec.UserID
	if u.ID.IsZero() {
		u.ID = lanyardID(idv)
	}
	if held, err := r.Store.UserByEmail(ctx, u.Email); err == nil && held.ID == u.ID {
		r.dryUsers[key] = u.ID // written by an interrupted run: a run marks it done
		return "", nil
	} else if err == nil || r.dryKeys["email:"+u.Email] {
		return DuplicateEmail, nil
	} else if !errors.Is(err, lanyard.ErrNotFound) {
		return "", err
	}
	if u.UsernameKey != "" {
		if _, err := r.Store.UserByUsernameKey(ctx, u.UsernameKey); err == nil || r.dryKeys["username:"+u.UsernameKey] {
			return DuplicateUsername, nil
		} else if !errors.Is(err, lanyard.ErrNotFound) {
			return "", err
		}
		r.dryKeys["username:"+u.UsernameKey] = true
	}
	r.dryKeys["email:"+u.Email] = true
	r.dryUsers[key] = u.ID
	return "", nil
}

// link imports one linked ID document of lm.
func (r *run) link(ctx context.Context, lm LinkMap, id bson.RawValue, doc bson.Raw) (string, error) {
	r.links++
	key := SourceKey(lm.Collection, id)
	rec, err := r.record(ctx, key)
	if err != nil {
		return "", err
	}
	if rec.Done {
		return already, nil
	}
	ref, ok := lookup(doc, lm.UserField)
	if !ok {
		return UserNotImported, nil
	}
	uid, ok, err := r.userOf(ctx, ref)
	if err != nil || !ok {
		return UserNotImported, err
	}
	provider := lm.Provider.Name
	if lm.Provider.Field != "" {
		provider = text(doc, lm.Provider.Field)
	}
	ext, ok := externalID(doc, lm.ExternalID)
	if !ok {
		return InvalidExternalID, nil
	}
	p, e, err := linkid.Canonical(provider, ext)
	if err != nil {
		var bad *lanyard.InvalidError
		if errors.As(err, &bad) && bad.Fields[0].Location == "provider" {
			return InvalidProvider, nil
		}
		return InvalidExternalID, nil
	}
	if r.DryRun {
		if r.dryLinks[p+"\x00"+e] {
			return ExternalIDHeld, nil
		}
		r.dryLinks[p+"\x00"+e] = true
	}
	u, err := r.Store.UserByID(ctx, uid)
	switch {
	case errors.Is(err, lanyard.ErrNotFound) && r.DryRun:
		u = lanyard.User{ID: uid} // one this dry run would have written
	case errors.Is(err, lanyard.ErrNotFound):
		return UserNotImported, nil
	case err != nil:
		return "", err
	}
	outcome, err := r.Links.Import(ctx, u, p, e, r.DryRun)
	if err != nil {
		return "", err
	}
	switch outcome {
	case linkid.HeldByOther:
		return ExternalIDHeld, nil
	case linkid.TooMany:
		return TooManyLinkedIDs, nil
	}
	if r.DryRun {
		return "", nil
	}
	if err := r.step(LinkWritten, r.links); err != nil {
		return "", err
	}
	if _, err := r.Store.ClaimImport(ctx, key, lanyard.ID{}, r.Now()); err != nil {
		return "", err
	}
	if err := r.Store.ImportDone(ctx, key); err != nil {
		return "", err
	}
	if outcome == linkid.AlreadyLinked {
		return already, nil
	}
	return "", nil
}

// record is what the store (or this dry run) holds for key; the zero record if none.
func (r *run) record(ctx context.Context, key string) (store.ImportRecord, error) {
	rec, err := r.Store.ImportRecordOf(ctx, key)
	if errors.Is(err, lanyard.ErrNotFound) {
		return store.ImportRecord{}, nil
	}
	return rec, err
}

// userOf finds the Lanyard id of the user a linked ID refers to by ref, the value
// of the users' id field — as it is, or as the other spelling of an ObjectId (its
// 24 hex digits), since applications often keep the one in the users and the other
// in their references.
func (r *run) userOf(ctx context.Context, ref bson.RawValue) (lanyard.ID, bool, error) {
	cands := []bson.RawValue{ref}
	if oid, ok := ref.ObjectIDOK(); ok {
		cands = append(cands, rawString(oid.Hex()))
	} else if s, ok := ref.StringValueOK(); ok {
		if oid, err := bson.ObjectIDFromHex(s); err == nil {
			cands = append(cands, rawObjectID(oid))
		}
	}
	for _, c := range cands {
		key := SourceKey(r.Map.Users.Collection, c)
		if id, ok := r.dryUsers[key]; ok {
			return id, true, nil
		}
		rec, err := r.record(ctx, key)
		if err != nil {
			return lanyard.ID{}, false, err
		}
		if rec.Done {
			return rec.UserID, true, nil
		}
	}
	return lanyard.ID{}, false, nil
}

// SourceKey names a source record in the store's imports collection: its collection
// and a digest of its id's BSON type and value, so ids of any type and length fit,
// and ObjectId("…") and the string "…" are two records.
func SourceKey(coll string, id bson.RawValue) string {
	h := sha256.New()
	h.Write([]byte{byte(id.Type)})
	h.Write(id.Value)
	return coll + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

var hex24 = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// lanyardID is the id an imported account gets: the source's own when it is an
// ObjectId or 24 hex digits, else a new one.
func lanyardID(id bson.RawValue) lanyard.ID {
	if oid, ok := id.ObjectIDOK(); ok {
		return lanyard.ID(oid)
	}
	if s, ok := id.StringValueOK(); ok && hex24.MatchString(s) {
		if oid, err := bson.ObjectIDFromHex(strings.ToLower(s)); err == nil {
			return lanyard.ID(oid)
		}
	}
	return store.NewID()
}

// createdAt is the account's creation time: the source's field when it holds a
// date (or an RFC 3339 string), else the time in an ObjectId id, else now.
func createdAt(doc bson.Raw, field string, id bson.RawValue, now time.Time) time.Time {
	if v, ok := lookup(doc, field); ok {
		if t, ok := v.TimeOK(); ok {
			return t
		}
		if dt, ok := v.DateTimeOK(); ok {
			return time.UnixMilli(dt)
		}
		if s, ok := v.StringValueOK(); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	if oid, ok := id.ObjectIDOK(); ok {
		return oid.Timestamp()
	}
	return now
}

// lookup is the value at a dotted field path; false when absent or null.
func lookup(doc bson.Raw, path string) (bson.RawValue, bool) {
	if path == "" {
		return bson.RawValue{}, false
	}
	v, err := doc.LookupErr(strings.Split(path, ".")...)
	if err != nil || v.Type == bson.TypeNull || v.Type == bson.TypeUndefined {
		return bson.RawValue{}, false
	}
	return v, true
}

// text is a string field's value, "" when absent or of another type.
func text(doc bson.Raw, path string) string {
	v, ok := lookup(doc, path)
	if !ok {
		return ""
	}
	s, _ := v.StringValueOK()
	return s
}

// hashOf is a password hash as stored: a string, or binary (PyMongo stores the
// bytes that bcrypt.hashpw returns as BSON binary).
func hashOf(doc bson.Raw, path string) (string, bool) {
	v, ok := lookup(doc, path)
	if !ok {
		return "", false
	}
	if s, ok := v.StringValueOK(); ok && s != "" {
		return s, true
	}
	if _, b, ok := v.BinaryOK(); ok && len(b) > 0 {
		return string(b), true
	}
	return "", false
}

// externalID is an external id as text: a string, or an integer's decimal digits.
func externalID(doc bson.Raw, path string) (string, bool) {
	v, ok := lookup(doc, path)
	if !ok {
		return "", false
	}
	if s, ok := v.StringValueOK(); ok {
		return s, true
	}
	if n, ok := v.AsInt64OK(); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// describe is a source id as the report names it: an ObjectId's hex, a string as
// it is, any other value as relaxed Extended JSON.
func describe(id bson.RawValue) string {
	if oid, ok := id.ObjectIDOK(); ok {
		return oid.Hex()
	}
	if s, ok := id.StringValueOK(); ok {
		return s
	}
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: id}}, false, false)
	if err != nil {
		return id.String()
	}
	var v map[string]json.RawMessage
	if json.Unmarshal(b, &v) != nil {
		return id.String()
	}
	return string(v["v"])
}

func rawString(s string) bson.RawValue {
	t, b, _ := bson.MarshalValue(s)
	return bson.RawValue{Type: t, Value: b}
}

func rawObjectID(oid bson.ObjectID) bson.RawValue {
	t, b, _ := bson.MarshalValue(oid)
	return bson.RawValue{Type: t, Value: b}
}

// Print writes the report as text: the counts, then one line per skip and drop.
func (rep *Report) Print(w io.Writer) {
	what := "imported"
	if rep.DryRun {
		what = "would import (dry run)"
	}
	fmt.Fprintf(w, "users: %d read, %s %d, %d already imported, %d skipped\n",
		rep.Users.Read, what, rep.Users.Imported, rep.Users.AlreadyImported, rep.Users.Skipped)
	fmt.Fprintf(w, "linked ids: %d read, %s %d, %d already imported, %d skipped\n",
		rep.LinkedIDs.Read, what, rep.LinkedIDs.Imported, rep.LinkedIDs.AlreadyImported, rep.LinkedIDs.Skipped)
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s %s: %s\n", s.Collection, s.SourceID, s.Reason)
	}
	for _, d := range rep.Dropped {
		fmt.Fprintf(w, "left out %s of %s %s: %s\n", d.Field, d.Collection, d.SourceID, d.Reason)
	}
}

// Source is an application's database, opened to be read.
type Source struct {
	DB     *mongo.Database
	client *mongo.Client
}

// OpenSource connects to the application's database name at uri.
func OpenSource(ctx context.Context, uri, name string) (*Source, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("lanyard-import").SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	return &Source{DB: c.Database(name), client: c}, nil
}

// Close disconnects.
func (s *Source) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }
