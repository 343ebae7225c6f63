package store

import (
	"encoding/binary"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lanyard/lanyard"
)

// Document is one document as the store read it, for the relation registry: a whole
// document of an application's collection, or of one of Lanyard's own. Above the store
// it is opaque. An application's document leaves it only as relaxed Extended JSON
// (MarshalJSON); one of Lanyard's own only through its typed decoder (Session,
// LinkedID, AuditEvent), which refuses a document of any other collection, so that its
// package can turn it into a public value. It holds the bytes as read, so rendering
// costs no decode and re-encode on the way.
type Document struct {
	coll string
	raw  bson.Raw
}

// ID returns the document's _id as stored (a lanyard.ID for an ObjectId); nil when it
// has none that can be read.
func (d Document) ID() any { return d.Value("_id") }

// Value returns the top-level field name as stored (a lanyard.ID for an ObjectId, a
// string, an int32, …); nil when the document has no such field or it cannot be read.
// The store's queries take a lanyard.ID wherever they take an ObjectId.
func (d Document) Value(name string) any {
	// Ids and references are ObjectIds or strings: read those directly, as Unmarshal
	// would give them, without its decoder's allocations (expand groups every child by
	// its parent field).
	rv := d.raw.Lookup(name)
	switch rv.Type {
	case bson.TypeObjectID:
		if id, ok := rv.ObjectIDOK(); ok {
			return lanyard.ID(id)
		}
	case bson.TypeString:
		if s, ok := rv.StringValueOK(); ok {
			return s
		}
	}
	var v any
	if err := rv.Unmarshal(&v); err != nil {
		return nil
	}
	return v
}

// Without returns the document without its top-level fields of these names (the same
// document, not a copy, when it has none of them).
func (d Document) Without(names ...string) Document {
	found := false
	for _, n := range names {
		if d.raw.Lookup(n).Type != 0 {
			found = true
			break
		}
	}
	if !found {
		return d
	}
	els, err := d.raw.Elements()
	if err != nil {
		return d
	}
	out := make([]byte, 4, len(d.raw))
	for _, e := range els {
		if !slices.Contains(names, e.Key()) {
			out = append(out, e...)
		}
	}
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	return Document{coll: d.coll, raw: out}
}

// MarshalJSON renders the document as relaxed Extended JSON (as mongoexport and mongosh
// show it, _id included): the form the API gives an application's documents in.
func (d Document) MarshalJSON() ([]byte, error) {
	b, err := bson.MarshalExtJSON(d.raw, false, false)
	if err != nil {
		return nil, fmt.Errorf("store: render %s document: %w", d.coll, err)
	}
	return b, nil
}

// Session decodes a document of sessions.
func (d Document) Session() (lanyard.Session, error) {
	var doc sessionDoc
	if err := d.decode(collSessions, &doc); err != nil {
		return lanyard.Session{}, err
	}
	return doc.session(), nil
}

// LinkedID decodes a document of linked_ids (its external id still sealed).
func (d Document) LinkedID() (lanyard.LinkedID, error) {
	var doc linkedIDDoc
	if err := d.decode(collLinkedIDs, &doc); err != nil {
		return lanyard.LinkedID{}, err
	}
	return doc.linkedID(), nil
}

// AuditEvent decodes a document of audit_events.
func (d Document) AuditEvent() (lanyard.AuditEvent, error) {
	var doc auditDoc
	if err := d.decode(collAudit, &doc); err != nil {
		return lanyard.AuditEvent{}, err
	}
	return doc.event(), nil
}

// decode decodes d into v; ErrForeign when d is not one of Lanyard's documents.
func (d Document) decode(coll string, v ownDoc) error {
	if d.coll != coll {
		return fmt.Errorf("store: a document of %s is not one of %s", d.coll, coll)
	}
	return decodeOwn(coll, d.raw, v)
}
