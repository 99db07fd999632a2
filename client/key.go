package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Key names an item (see the package doc, "Keys"). The zero Key is no key:
// as a scan bound or prefix it means none.
type Key struct {
	text  string // the key as it goes into a path: the text, or compact array JSON
	index bool   // an index store's key: text is a JSON array
	err   error  // why the key could not be built; every call using it fails
}

// StringKey is a plain store's key.
func StringKey(s string) Key { return Key{text: s} }

// IndexKey is an index store's key (or key prefix) from its field values,
// most significant first: nil, bool, numbers and strings, as
// json.Marshal writes them. A value JSON cannot encode (a NaN, a map) makes
// a Key that every call using it rejects with ErrBadRequest.
func IndexKey(values ...any) Key {
	if values == nil {
		values = []any{}
	}
	b, err := json.Marshal(values)
	if err != nil {
		return Key{index: true, err: fmt.Errorf("%w: index key: %w", ErrBadRequest, err)}
	}
	return Key{text: string(b), index: true}
}

// IndexKeyJSON is an index store's key given as JSON array text, for example
// `["Smith",42]`. Text that is not a JSON array makes a Key that every call
// using it rejects with ErrBadRequest.
func IndexKeyJSON(text string) Key {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return Key{index: true, err: fmt.Errorf("%w: index key %q is not JSON: %w", ErrBadRequest, text, err)}
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '[' {
		return Key{index: true, err: fmt.Errorf("%w: index key %q is not a JSON array", ErrBadRequest, text)}
	}
	return Key{text: buf.String(), index: true}
}

// String is the key as it goes into a path (before percent-encoding): a
// plain key's text, or an index key's JSON array text.
func (k Key) String() string { return k.text }

// IsIndex reports whether k is an index store's key.
func (k Key) IsIndex() bool { return k.index }

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return k.text == "" && !k.index && k.err == nil }

// Err is why k could not be built, or nil.
func (k Key) Err() error { return k.err }

// MarshalJSON writes a plain key as a JSON string and an index key as its
// array.
func (k Key) MarshalJSON() ([]byte, error) {
	if k.err != nil {
		return nil, k.err
	}
	if k.index {
		return []byte(k.text), nil
	}
	return json.Marshal(k.text)
}

// UnmarshalJSON reads a key as the API writes it: a string, an array, or
// null (the zero Key).
func (k *Key) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*k = Key{}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*k = StringKey(s)
	case len(b) > 0 && b[0] == '[':
		*k = IndexKeyJSON(string(b))
		return k.err
	default:
		return errors.New("client: a key is a JSON string or array")
	}
	return nil
}

// check rejects a Key that could not be built, or an empty one.
func (k Key) check() error {
	if k.err != nil {
		return k.err
	}
	switch k.text {
	case "":
		return fmt.Errorf("%w: key is empty", ErrBadRequest)
	case ".", "..":
		// Servers clean such a path segment away, turning the call into
		// one on the store itself.
		return fmt.Errorf("%w: key %q cannot travel in a URL path: write and read it in a Txn", ErrBadRequest, k.text)
	}
	return nil
}
