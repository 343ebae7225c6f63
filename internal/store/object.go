package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// object is a free-form JSON object of the domain (lanyard.User's Profile and
// AppMetadata) as stored: an embedded document, so that the application can query its
// fields. Read back, it is JSON again (relaxed Extended JSON, decoded with UseNumber),
// so no BSON type leaves the store; written, a json.Number is an int64 when it is an
// integer that fits, else a double.
type object map[string]any

// MarshalBSONValue implements bson.ValueMarshaler.
func (o object) MarshalBSONValue() (byte, []byte, error) {
	if o == nil {
		return byte(bson.TypeNull), nil, nil
	}
	t, b, err := bson.MarshalValue(storable(map[string]any(o)))
	if err != nil {
		return 0, nil, fmt.Errorf("store: object: %w", err)
	}
	return byte(t), b, nil
}

// UnmarshalBSONValue implements bson.ValueUnmarshaler. Anything but a document (or
// null) is an error: the document holding it is not one of Lanyard's.
func (o *object) UnmarshalBSONValue(t byte, data []byte) error {
	switch bson.Type(t) {
	case bson.TypeNull:
		*o = nil
		return nil
	case bson.TypeEmbeddedDocument:
	default:
		return fmt.Errorf("store: object: a %s, not a document", bson.Type(t))
	}
	ext, err := bson.MarshalExtJSON(bson.Raw(data), false, false)
	if err != nil {
		return fmt.Errorf("store: object: %w", err)
	}
	m, err := decodeObject(ext)
	if err != nil {
		return err
	}
	*o = m
	return nil
}

// decodeObject decodes a JSON object as the domain holds one (UseNumber).
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("store: object: %w", err)
	}
	return m, nil
}

// storable is v with its JSON numbers as BSON numbers: an integer that fits an int64
// as one, any other number as a double. Other values are kept (BSON types given by
// an import among them).
func storable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(bson.M, len(v))
		for k, x := range v {
			out[k] = storable(x)
		}
		return out
	case []any:
		out := make(bson.A, len(v))
		for i, x := range v {
			out[i] = storable(x)
		}
		return out
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	}
	return v
}
