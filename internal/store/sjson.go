package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FerretDB 1.24 keeps each document of its SQLite backend as "sjson": the document as
// JSON, its BSON types beside it under "$s" (for each field "t", the type's name; for
// a document "$s" again with the keys' order in "$k"; for an array "i", the items'
// types; a binary's subtype in "s", a regex's options in "o"). decodeSJSON turns a row
// into the BSON document FerretDB itself would send for it, so that documents found
// through the SQLite index are read in the same SQL query instead of one round trip to
// FerretDB each. The format is FerretDB's own and not exported by it; the test
// TestSJSON_DecodesAsFerretDBReads compares every BSON type it can hold with what
// FerretDB answers, so an upgrade that changes the format fails there. Anything this
// decoder does not know is errSJSON, and the caller reads that document through
// FerretDB instead.

var errSJSON = errors.New("store: sjson value not understood")

type sjsonSchema struct {
	P map[string]*sjsonElem `json:"p"`
	K []string              `json:"$k"`
}

type sjsonElem struct {
	T string       `json:"t"`
	S *sjsonSchema `json:"$s,omitempty"`
	O *string      `json:"o,omitempty"`
	I []*sjsonElem `json:"i,omitempty"`
	B *byte        `json:"s,omitempty"` // binData subtype
}

// decodeSJSON returns the BSON form of one sjson document.
func decodeSJSON(data []byte) (bson.Raw, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", errSJSON, err)
	}
	var sch sjsonSchema
	if err := json.Unmarshal(fields["$s"], &sch); err != nil {
		return nil, fmt.Errorf("%w: schema: %v", errSJSON, err)
	}
	delete(fields, "$s")
	d, err := sjsonDoc(fields, &sch)
	if err != nil {
		return nil, err
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSJSON, err)
	}
	return raw, nil
}

func sjsonDoc(fields map[string]json.RawMessage, sch *sjsonSchema) (bson.D, error) {
	if len(fields) == 0 {
		return bson.D{}, nil
	}
	if sch == nil || len(sch.K) != len(fields) {
		return nil, fmt.Errorf("%w: keys and schema differ", errSJSON)
	}
	d := make(bson.D, 0, len(sch.K))
	for _, k := range sch.K {
		raw, ok := fields[k]
		if !ok {
			return nil, fmt.Errorf("%w: key %q missing", errSJSON, k)
		}
		v, err := sjsonValue(raw, sch.P[k])
		if err != nil {
			return nil, err
		}
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d, nil
}

func sjsonValue(raw json.RawMessage, el *sjsonElem) (any, error) {
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if el == nil {
		return nil, fmt.Errorf("%w: no type", errSJSON)
	}
	switch el.T {
	case "object":
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("%w: %v", errSJSON, err)
		}
		return sjsonDoc(fields, el.S)
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%w: %v", errSJSON, err)
		}
		if len(items) != len(el.I) {
			return nil, fmt.Errorf("%w: array and schema differ", errSJSON)
		}
		a := make(bson.A, len(items))
		for i, it := range items {
			v, err := sjsonValue(it, el.I[i])
			if err != nil {
				return nil, err
			}
			a[i] = v
		}
		return a, nil
	case "double":
		var f float64
		err := unmarshalSJSON(raw, &f)
		return f, err
	case "string":
		var s string
		err := unmarshalSJSON(raw, &s)
		return s, err
	case "binData":
		var b []byte
		if el.B == nil {
			return nil, fmt.Errorf("%w: binary without subtype", errSJSON)
		}
		err := unmarshalSJSON(raw, &b)
		return bson.Binary{Subtype: *el.B, Data: b}, err
	case "objectId":
		var hex string
		if err := unmarshalSJSON(raw, &hex); err != nil {
			return nil, err
		}
		id, err := bson.ObjectIDFromHex(hex)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSJSON, err)
		}
		return id, nil
	case "bool":
		var b bool
		err := unmarshalSJSON(raw, &b)
		return b, err
	case "date":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: date: %v", errSJSON, err)
		}
		return bson.DateTime(n), nil
	case "regex":
		var p string
		if el.O == nil {
			return nil, fmt.Errorf("%w: regex without options", errSJSON)
		}
		err := unmarshalSJSON(raw, &p)
		return bson.Regex{Pattern: p, Options: *el.O}, err
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
	return nil, fmt.Errorf("%w: type %q", errSJSON, el.T)
}

func unmarshalSJSON(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", errSJSON, err)
	}
	return nil
}
