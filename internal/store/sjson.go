package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FerretDB 1.24 keeps each document of its SQLite backend as "sjson": the document as
// JSON, its BSON types beside it under "$s" (for each field "t", the type's name; for
// a document "$s" again with the keys' order in "$k"; for an array "i", the items'
// types; a binary's subtype in "s", a regex's options in "o"). sjsonDecoder turns a row
// into the BSON document FerretDB itself would send for it, so that documents found
// through the SQLite index are read in the same SQL query instead of one round trip to
// FerretDB each. The format is FerretDB's own and not exported by it; the test
// TestSJSON_DecodesAsFerretDBReads compares every BSON type it can hold with what
// FerretDB answers, so an upgrade that changes the format fails there. Anything this
// decoder does not know is errSJSON, and the caller reads that document through
// FerretDB instead.

var errSJSON = errors.New("store: sjson value not understood")

type sjsonSchema struct {
	p map[string]*sjsonElem
	k []string
}

type sjsonElem struct {
	t       string
	s       *sjsonSchema // object
	o       string       // regex options
	hasO    bool
	i       []*sjsonElem // array items
	subtype int          // binData; -1 when absent
}

// sjsonDecoder decodes sjson rows. It keeps the schemas it has parsed: the documents
// of a collection mostly share one, and parsing it is half the work of a row.
type sjsonDecoder struct {
	mu      sync.Mutex
	schemas map[string]*sjsonSchema // by the schema's JSON; parsed schemas are never changed
}

// maxSchemas bounds the cache; past it the cache starts afresh.
const maxSchemas = 1024

func (dec *sjsonDecoder) schema(raw []byte) (*sjsonSchema, error) {
	dec.mu.Lock()
	sch := dec.schemas[string(raw)]
	dec.mu.Unlock()
	if sch != nil {
		return sch, nil
	}
	sch, err := (&sjsonReader{b: raw}).schema()
	if err != nil {
		return nil, err
	}
	dec.mu.Lock()
	if dec.schemas == nil || len(dec.schemas) >= maxSchemas {
		dec.schemas = map[string]*sjsonSchema{}
	}
	dec.schemas[string(raw)] = sch
	dec.mu.Unlock()
	return sch, nil
}

// decode returns the BSON form of one sjson document.
func (dec *sjsonDecoder) decode(data []byte) (bson.Raw, error) {
	r := &sjsonReader{b: data}
	fields, err := r.object()
	if err != nil {
		return nil, err
	}
	var sch *sjsonSchema
	rest := fields[:0]
	for _, f := range fields {
		if f.key == "$s" {
			if sch, err = dec.schema(f.raw); err != nil {
				return nil, err
			}
			continue
		}
		rest = append(rest, f)
	}
	if sch == nil {
		return nil, fmt.Errorf("%w: no schema", errSJSON)
	}
	d, err := sjsonDoc(rest, sch)
	if err != nil {
		return nil, err
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSJSON, err)
	}
	return raw, nil
}

// sjsonField is one member of a JSON object, its value still raw.
type sjsonField struct {
	key string
	raw []byte
}

func sjsonDoc(fields []sjsonField, sch *sjsonSchema) (bson.D, error) {
	if len(fields) == 0 {
		return bson.D{}, nil
	}
	if sch == nil || len(sch.k) != len(fields) {
		return nil, fmt.Errorf("%w: keys and schema differ", errSJSON)
	}
	d := make(bson.D, 0, len(sch.k))
	for i, k := range sch.k {
		// The row keeps the schema's order, so the i-th field is nearly always it.
		j := i
		if j >= len(fields) || fields[j].key != k {
			j = slices.IndexFunc(fields, func(f sjsonField) bool { return f.key == k })
			if j < 0 {
				return nil, fmt.Errorf("%w: key %q missing", errSJSON, k)
			}
		}
		v, err := sjsonValue(fields[j].raw, sch.p[k])
		if err != nil {
			return nil, err
		}
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d, nil
}

func sjsonValue(raw []byte, el *sjsonElem) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if el == nil {
		return nil, fmt.Errorf("%w: no type", errSJSON)
	}
	switch el.t {
	case "object":
		fields, err := (&sjsonReader{b: raw}).object()
		if err != nil {
			return nil, err
		}
		return sjsonDoc(fields, el.s)
	case "array":
		items, err := (&sjsonReader{b: raw}).array()
		if err != nil {
			return nil, err
		}
		if len(items) != len(el.i) {
			return nil, fmt.Errorf("%w: array and schema differ", errSJSON)
		}
		a := make(bson.A, len(items))
		for i, it := range items {
			if a[i], err = sjsonValue(it, el.i[i]); err != nil {
				return nil, err
			}
		}
		return a, nil
	case "double":
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: double: %v", errSJSON, err)
		}
		return f, nil
	case "string":
		return sjsonString(raw)
	case "binData":
		if el.subtype < 0 {
			return nil, fmt.Errorf("%w: binary without subtype", errSJSON)
		}
		s, err := sjsonString(raw)
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: binary: %v", errSJSON, err)
		}
		return bson.Binary{Subtype: byte(el.subtype), Data: b}, nil
	case "objectId":
		hex, err := sjsonString(raw)
		if err != nil {
			return nil, err
		}
		id, err := bson.ObjectIDFromHex(hex)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSJSON, err)
		}
		return id, nil
	case "bool":
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%w: bool %q", errSJSON, raw)
	case "date":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: date: %v", errSJSON, err)
		}
		return bson.DateTime(n), nil
	case "regex":
		if !el.hasO {
			return nil, fmt.Errorf("%w: regex without options", errSJSON)
		}
		p, err := sjsonString(raw)
		if err != nil {
			return nil, err
		}
		return bson.Regex{Pattern: p, Options: el.o}, nil
	case "int":
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: int: %v", errSJSON, err)
		}
		return int32(n), nil
	case "long":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: long: %v", errSJSON, err)
		}
		return n, nil
	case "timestamp":
		n, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamp: %v", errSJSON, err)
		}
		return bson.Timestamp{T: uint32(n >> 32), I: uint32(n)}, nil
	}
	return nil, fmt.Errorf("%w: type %q", errSJSON, el.t)
}

// sjsonString decodes a JSON string; one with escapes goes through encoding/json,
// which knows every escape (surrogate pairs included).
func sjsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", fmt.Errorf("%w: not a string", errSJSON)
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %v", errSJSON, err)
	}
	return s, nil
}

// sjsonReader splits the JSON that encoding/json wrote for FerretDB (so: valid, no
// insignificant white space needed, but tolerated) into members and items, leaving
// values raw.
type sjsonReader struct {
	b []byte
	i int
}

func (r *sjsonReader) ws() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\n' || r.b[r.i] == '\t' || r.b[r.i] == '\r') {
		r.i++
	}
}

func (r *sjsonReader) expect(c byte) error {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != c {
		return fmt.Errorf("%w: want %q at %d", errSJSON, c, r.i)
	}
	r.i++
	return nil
}

// value skips one value and returns its bytes.
func (r *sjsonReader) value() ([]byte, error) {
	r.ws()
	start := r.i
	if r.i >= len(r.b) {
		return nil, fmt.Errorf("%w: value expected", errSJSON)
	}
	switch r.b[r.i] {
	case '"':
		if err := r.skipString(); err != nil {
			return nil, err
		}
	case '{', '[':
		depth := 0
		for r.i < len(r.b) {
			switch r.b[r.i] {
			case '"':
				if err := r.skipString(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			r.i++
			if depth == 0 {
				return r.b[start:r.i], nil
			}
		}
		return nil, fmt.Errorf("%w: unterminated", errSJSON)
	default:
		for r.i < len(r.b) && !strings.ContainsRune(",}] \n\t\r", rune(r.b[r.i])) {
			r.i++
		}
	}
	return r.b[start:r.i], nil
}

func (r *sjsonReader) skipString() error {
	r.i++ // the opening quote
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case '\\':
			r.i += 2
			continue
		case '"':
			r.i++
			return nil
		}
		r.i++
	}
	return fmt.Errorf("%w: unterminated string", errSJSON)
}

// object reads {"k": v, …}.
func (r *sjsonReader) object() ([]sjsonField, error) {
	if err := r.expect('{'); err != nil {
		return nil, err
	}
	out := make([]sjsonField, 0, 16)
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return out, nil
	}
	for {
		k, err := r.value()
		if err != nil {
			return nil, err
		}
		key, err := sjsonString(k)
		if err != nil {
			return nil, err
		}
		if err := r.expect(':'); err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		out = append(out, sjsonField{key: key, raw: v})
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == ',' {
			r.i++
			continue
		}
		return out, r.expect('}')
	}
}

// array reads [v, …].
func (r *sjsonReader) array() ([][]byte, error) {
	if err := r.expect('['); err != nil {
		return nil, err
	}
	var out [][]byte
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return out, nil
	}
	for {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == ',' {
			r.i++
			continue
		}
		return out, r.expect(']')
	}
}

// schema reads {"p": {key: elem, …}, "$k": [keys]}.
func (r *sjsonReader) schema() (*sjsonSchema, error) {
	fields, err := r.object()
	if err != nil {
		return nil, err
	}
	sch := &sjsonSchema{}
	for _, f := range fields {
		switch f.key {
		case "p":
			props, err := (&sjsonReader{b: f.raw}).object()
			if err != nil {
				return nil, err
			}
			sch.p = make(map[string]*sjsonElem, len(props))
			for _, pr := range props {
				if sch.p[pr.key], err = (&sjsonReader{b: pr.raw}).elem(); err != nil {
					return nil, err
				}
			}
		case "$k":
			keys, err := (&sjsonReader{b: f.raw}).array()
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				s, err := sjsonString(k)
				if err != nil {
					return nil, err
				}
				sch.k = append(sch.k, s)
			}
		default:
			return nil, fmt.Errorf("%w: schema member %q", errSJSON, f.key)
		}
	}
	return sch, nil
}

// elem reads {"t": type, "$s": schema, "o": options, "i": [elems], "s": subtype}.
func (r *sjsonReader) elem() (*sjsonElem, error) {
	fields, err := r.object()
	if err != nil {
		return nil, err
	}
	el := &sjsonElem{subtype: -1}
	for _, f := range fields {
		switch f.key {
		case "t":
			el.t, err = sjsonString(f.raw)
		case "$s":
			el.s, err = (&sjsonReader{b: f.raw}).schema()
		case "o":
			el.o, err = sjsonString(f.raw)
			el.hasO = true
		case "i":
			var items [][]byte
			if items, err = (&sjsonReader{b: f.raw}).array(); err == nil {
				el.i = make([]*sjsonElem, len(items))
				for j, it := range items {
					if el.i[j], err = (&sjsonReader{b: it}).elem(); err != nil {
						break
					}
				}
			}
		case "s":
			var n int64
			if n, err = strconv.ParseInt(string(f.raw), 10, 32); err == nil && (n < 0 || n > 255) {
				err = fmt.Errorf("%w: subtype %d", errSJSON, n)
			}
			el.subtype = int(n)
		default:
			err = fmt.Errorf("%w: element member %q", errSJSON, f.key)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSJSON, err)
		}
	}
	return el, nil
}
