package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/audit"
	"github.com/lanyard/lanyard/internal/linkid"
	"github.com/lanyard/lanyard/internal/passkey"
	"github.com/lanyard/lanyard/internal/relation"
	"github.com/lanyard/lanyard/internal/session"
)

// Expansion is an object's expanded relations, rendered once per request straight
// into JSON: an object from relation name to an array of documents.
type Expansion []byte

// MarshalJSON implements json.Marshaler: the expansion is already JSON.
func (e Expansion) MarshalJSON() ([]byte, error) { return e, nil }

// Schema describes the expansion in the OpenAPI document. It runs once, when the
// operations are registered.
func (Expansion) Schema(r huma.Registry) *huma.Schema {
	declared := &huma.Schema{
		Type: huma.TypeObject,
		Description: "A document of a declared collection as relaxed Extended JSON, _id included; " +
			"with its own expand (and expand_truncated) when the path goes deeper, which then take the place " +
			"of any top-level fields of those names the document holds.",
		AdditionalProperties: true,
	}
	return &huma.Schema{
		Type: huma.TypeObject,
		Description: "Present only when expand was asked for: relation name -> its documents, newest first, " +
			"at most 100 per parent. Built-in relations render as LinkedID, Session and AuditEvent.",
		AdditionalProperties: &huma.Schema{
			Type: huma.TypeArray,
			Items: &huma.Schema{AnyOf: []*huma.Schema{
				r.Schema(reflect.TypeFor[LinkedID](), true, "LinkedID"),
				r.Schema(reflect.TypeFor[Session](), true, "Session"),
				r.Schema(reflect.TypeFor[AuditEvent](), true, "AuditEvent"),
				declared,
			}},
		},
	}
}

// Session is the public view of a session: never any token material.
type Session struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at" format:"date-time"`
	LastUsedAt string `json:"last_used_at" format:"date-time"`
	ExpiresAt  string `json:"expires_at" format:"date-time"`
	IP         string `json:"ip" doc:"Client address at login; empty when unknown"`
	UserAgent  string `json:"user_agent" doc:"Client's User-Agent at login; empty when unknown"`
	Current    bool   `json:"current" doc:"Whether this is the session of the access token in use"`
}

// AuditEvent is the public view of an audit event.
type AuditEvent struct {
	ID     string            `json:"id"`
	Type   string            `json:"type" doc:"e.g. linked_id.linked"`
	At     string            `json:"at" format:"date-time"`
	IP     string            `json:"ip" doc:"Client address; empty when unknown"`
	Detail map[string]string `json:"detail" nullable:"false"`
}

// expandUsers renders users, and when nodes is not empty expands them together: one
// store query per node, whatever the number of users.
func (s *Server) expandUsers(ctx context.Context, users []lanyard.User, nodes []*relation.Node) ([]User, error) {
	out := make([]User, len(users))
	for i, u := range users {
		out[i] = renderUser(u)
	}
	if len(nodes) == 0 || len(users) == 0 {
		return out, nil
	}
	docs := make([]relation.Doc, len(users))
	parents := make([]*relation.Doc, len(users))
	for i := range users {
		docs[i].ID = users[i].ID
		parents[i] = &docs[i]
	}
	if err := s.expander.Expand(ctx, nodes, parents); err != nil {
		return nil, err
	}
	r := newExpandRenderer(s, principal(ctx).SessionID)
	ends := make([]int, len(users))
	for i, d := range parents {
		if err := r.expansion(d, nodes); err != nil {
			return nil, err
		}
		ends[i] = r.buf.Len()
		out[i].ExpandTruncated = d.Truncated
	}
	// The buffer has stopped growing: slice each user's expansion out of it.
	all, start := r.buf.Bytes(), 0
	for i, end := range ends {
		out[i].Expand = Expansion(all[start:end:end])
		start = end
	}
	return out, nil
}

// expandRenderer writes expanded documents as JSON into one buffer per request.
type expandRenderer struct {
	s       *Server
	current string // the caller's session id: that session renders as current
	buf     bytes.Buffer
	enc     *json.Encoder
}

func newExpandRenderer(s *Server, current string) *expandRenderer {
	r := &expandRenderer{s: s, current: current}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	return r
}

// expansion writes d's expand object: each requested relation in request order.
// Relation names are [a-z0-9_], so they need no escaping.
func (r *expandRenderer) expansion(d *relation.Doc, nodes []*relation.Node) error {
	r.buf.WriteByte('{')
	for i, n := range nodes {
		if i > 0 {
			r.buf.WriteByte(',')
		}
		r.buf.WriteByte('"')
		r.buf.WriteString(n.Rel.Name)
		r.buf.WriteString(`":[`)
		for j, c := range d.Expand[n.Rel.Name] {
			if j > 0 {
				r.buf.WriteByte(',')
			}
			if err := r.child(n, c); err != nil {
				return fmt.Errorf("expand %s: %w", n.Rel.Name, err)
			}
		}
		r.buf.WriteByte(']')
	}
	r.buf.WriteByte('}')
	return nil
}

func (r *expandRenderer) truncated(names []string) {
	r.buf.WriteByte('[')
	for i, name := range names {
		if i > 0 {
			r.buf.WriteByte(',')
		}
		r.buf.WriteByte('"')
		r.buf.WriteString(name)
		r.buf.WriteByte('"')
	}
	r.buf.WriteByte(']')
}

// child writes one expanded document: a built-in as its public object, a declared
// collection's document as relaxed Extended JSON with its own expansion spliced in.
func (r *expandRenderer) child(n *relation.Node, c *relation.Doc) error {
	if n.Rel.BuiltIn {
		v, err := r.public(c.Public)
		if err != nil {
			return err
		}
		return r.enc.Encode(v) // its trailing newline is whitespace, dropped on output
	}
	doc := c.Document
	if len(n.Children) > 0 {
		// The expansion spliced in below takes the place of the document's own
		// top-level expand and expand_truncated, so no key appears twice.
		doc = doc.Without("expand", "expand_truncated")
	}
	js, err := doc.MarshalJSON()
	if err != nil {
		return err
	}
	if len(n.Children) == 0 {
		r.buf.Write(js)
		return nil
	}
	js = bytes.TrimRight(js, " \n")
	r.buf.Write(js[:len(js)-1]) // without the closing brace
	if len(js) > 2 {
		r.buf.WriteByte(',')
	}
	r.buf.WriteString(`"expand":`)
	if err := r.expansion(c, n.Children); err != nil {
		return err
	}
	if len(c.Truncated) > 0 {
		r.buf.WriteString(`,"expand_truncated":`)
		r.truncated(c.Truncated)
	}
	r.buf.WriteByte('}')
	return nil
}

// public turns the public value of a built-in relation's document (its package's
// view) into its API object. The endpoints that expand and export answer only the
// user and admins, so linked IDs show their external ids in clear.
func (r *expandRenderer) public(v any) (any, error) {
	switch v := v.(type) {
	case linkid.Public:
		return renderLinked(v), nil
	case session.Public:
		return Session{
			ID: v.ID, CreatedAt: formatTime(v.CreatedAt), LastUsedAt: formatTime(v.LastUsedAt),
			ExpiresAt: formatTime(v.ExpiresAt), IP: v.IP, UserAgent: v.UserAgent, Current: v.ID == r.current,
		}, nil
	case passkey.Public:
		return renderPasskey(v), nil
	case audit.Event:
		return AuditEvent{ID: v.ID, Type: v.Type, At: formatTime(v.At), IP: v.IP, Detail: v.Detail}, nil
	}
	return nil, fmt.Errorf("no API object for a %T", v)
}
