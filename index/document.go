package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// object is one level of a parsed document: member names and their raw,
// still undecoded values.
type object map[string]json.RawMessage

// Key returns the key of a JSON document: the encoding of each field's
// value in spec order. doc must be one JSON object (white space around it
// is allowed). A field that is missing, or whose path meets null, a string,
// a number or a boolean before its last segment, is null. Numbers are
// parsed as float64, so integers beyond ±2^53 may round and documents that
// differ only there get the same key. With duplicate member names the last
// one counts, as in encoding/json.
//
// The error wraps ErrBadSpec, or ErrBadDoc naming the problem: invalid
// JSON, a document that is not an object, a field whose value is an object
// or an array or whose path goes through an array, a number out of float64
// range, or a key longer than MaxKeySize.
func (s Spec) Key(doc []byte) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	top, err := parseObject(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDoc, err)
	}
	values := make([]any, len(s))
	for i, f := range s {
		if values[i], err = top.lookup(f.Name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDoc, err)
		}
	}
	return s.appendFields(nil, values, "key")
}

// parseObject parses a whole document that must be a JSON object.
func parseObject(doc []byte) (object, error) {
	switch k := kind(doc); k {
	case '{':
	case 0:
		return nil, errors.New("empty document: want a JSON object")
	default:
		if !json.Valid(doc) {
			return nil, invalidJSON(doc)
		}
		return nil, fmt.Errorf("document is %s, not a JSON object", kindName(k))
	}
	var o object
	if err := json.Unmarshal(doc, &o); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return o, nil
}

// invalidJSON is the syntax error json.Valid found in doc.
func invalidJSON(doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return errors.New("invalid JSON")
}

// lookup returns the value at a dotted path: nil, bool, string or
// json.Number.
func (o object) lookup(name string) (any, error) {
	path := name
	for {
		seg, rest, more := strings.Cut(path, ".")
		raw, ok := o[seg]
		if !ok {
			return nil, nil
		}
		if !more {
			return scalar(name, raw)
		}
		switch kind(raw) {
		case '{':
			o = nil
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("index field %q: %w", name, err)
			}
		case '[':
			return nil, fmt.Errorf("index field %q: %q is an array: index fields must be strings, numbers, booleans or null",
				name, name[:len(name)-len(rest)-1])
		default:
			return nil, nil
		}
		path = rest
	}
}

// scalar decodes the raw value of field name.
func scalar(name string, raw json.RawMessage) (any, error) {
	switch k := kind(raw); k {
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("index field %q: %w", name, err)
		}
		return s, nil
	case '{', '[':
		return nil, fmt.Errorf("index field %q is %s: index fields must be strings, numbers, booleans or null", name, kindName(k))
	}
	return json.Number(trimSpace(raw)), nil
}

// kind is the first byte of a JSON value after white space, or 0 if none.
func kind(b []byte) byte {
	if b = trimSpace(b); len(b) == 0 {
		return 0
	}
	return b[0]
}

func kindName(k byte) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// trimSpace drops JSON white space from both ends.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
