package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/journal"
)

// A key in the API is one of two shapes, decided by its store:
//
//   - a plain store's key is a string: in a path its percent-encoded UTF-8
//     bytes, in JSON a JSON string;
//   - an index store's key is the JSON array of its indexed fields' values
//     (null, boolean, number or string; see package index): in a path the
//     percent-encoded array text, in JSON the array itself.
//
// Keys written through the Go API that are not valid UTF-8 come back as
// "key_base64" (standard base64) instead of "key".

// keyer turns API keys into stored keys and back for one store.
type keyer struct {
	store  string
	spec   index.Spec // empty for a plain store
	maxKey int
}

// keyerFor looks up store in domain and returns its keyer.
func (s *Server) keyerFor(domain, store string) (keyer, error) {
	specs, err := s.specs(domain)
	if err != nil {
		return keyer{}, err
	}
	return specs.keyer(store)
}

// storeSpecs are a domain's stores and their index specifications, read
// once for a request.
type storeSpecs struct {
	domain string
	specs  map[string]index.Spec
	maxKey int
}

// specs reads the stores of domain.
func (s *Server) specs(domain string) (storeSpecs, error) {
	infos, _, err := s.db.Stores(domain)
	if err != nil {
		return storeSpecs{}, err
	}
	out := storeSpecs{domain: domain, specs: make(map[string]index.Spec, len(infos)), maxKey: s.opts.MaxKeySize}
	for _, info := range infos {
		out.specs[info.Name] = info.Index
	}
	return out, nil
}

// keyer returns the keyer of store, or an error wrapping
// sop.ErrStoreNotFound (sop.ErrBadName for a name no store can have).
func (ss storeSpecs) keyer(store string) (keyer, error) {
	spec, ok := ss.specs[store]
	if !ok {
		if err := checkStoreName(store); err != nil {
			return keyer{}, err
		}
		return keyer{}, fmt.Errorf("%w: %q in domain %s: create it with PUT /v1/domains/%s/stores/{name}", sop.ErrStoreNotFound, store, ss.domain, ss.domain)
	}
	return keyer{store: store, spec: spec, maxKey: ss.maxKey}, nil
}

// checkStoreName rejects names no store can have, so they are 400, not
// 404.
func checkStoreName(name string) error {
	if err := journal.CheckStoreName(name); err != nil {
		return fmt.Errorf("%w: %w", sop.ErrBadName, err)
	}
	return nil
}

// indexed reports whether the store has an index specification.
func (k keyer) indexed() bool { return len(k.spec) > 0 }

// fromPath returns the stored key for a path's (already unescaped) key.
func (k keyer) fromPath(text string) ([]byte, error) {
	if k.indexed() {
		return k.fromArray([]byte(text), "path key")
	}
	return k.plain(text)
}

// plain checks a plain store's key.
func (k keyer) plain(key string) ([]byte, error) {
	switch {
	case key == "":
		return nil, reject(sop.ErrBadKey, "the key is empty: keys are 1 to %d bytes", k.maxKey)
	case len(key) > k.maxKey:
		return nil, reject(sop.ErrTooLarge, "key of %d bytes: the limit is %d", len(key), k.maxKey)
	case !utf8.ValidString(key):
		return nil, reject(sop.ErrBadKey, "the key is not valid UTF-8: percent-encode its UTF-8 bytes")
	}
	return []byte(key), nil
}

// fromArray returns the stored key of an index store for the JSON array
// of its field values.
func (k keyer) fromArray(text []byte, what string) ([]byte, error) {
	values, err := k.values(text, what)
	if err != nil {
		return nil, err
	}
	if len(values) != len(k.spec) {
		return nil, reject(sop.ErrBadKey, "%s has %d values: store %q's index has %d fields (%s)", what, len(values), k.store, len(k.spec), fieldNames(k.spec))
	}
	key, err := k.spec.KeyOf(values)
	if err != nil {
		return nil, reject(sop.ErrBadKey, "%s: %v", what, err)
	}
	if len(key) > k.maxKey {
		return nil, reject(sop.ErrTooLarge, "%s encodes to %d bytes: the limit is %d", what, len(key), k.maxKey)
	}
	return key, nil
}

// prefix returns the encoding of the leading fields a JSON array gives
// (scan bounds of index stores).
func (k keyer) prefix(text []byte, what string) ([]byte, error) {
	values, err := k.values(text, what)
	if err != nil {
		return nil, err
	}
	p, err := k.spec.Prefix(values)
	if err != nil {
		return nil, reject(sop.ErrBadKey, "%s: %v", what, err)
	}
	return p, nil
}

// values parses a JSON array of field values.
func (k keyer) values(text []byte, what string) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var values []any
	if err := dec.Decode(&values); err != nil || dec.More() || values == nil {
		return nil, reject(sop.ErrBadKey, "%s %q is not a JSON array: store %q is an index store, its keys are arrays of the values of %s, e.g. [\"Smith\",42]", what, clip(text), k.store, fieldNames(k.spec))
	}
	if _, err := dec.Token(); err == nil {
		return nil, reject(sop.ErrBadKey, "%s has data after its array", what)
	}
	return values, nil
}

// fromJSON returns the stored key for a JSON key of a request body: a
// string for a plain store, an array for an index store.
func (k keyer) fromJSON(raw json.RawMessage, what string) ([]byte, error) {
	if len(raw) == 0 {
		return nil, reject(sop.ErrBadKey, "%s has no key", what)
	}
	if k.indexed() {
		return k.fromArray(raw, what+" key")
	}
	var key string
	if err := json.Unmarshal(raw, &key); err != nil {
		return nil, reject(sop.ErrBadKey, "%s key %s is not a JSON string: store %q is a plain store, its keys are strings", what, clip(raw), k.store)
	}
	return k.plain(key)
}

// docKey returns the key an index store gives document doc.
func (k keyer) docKey(doc []byte) ([]byte, error) {
	key, err := k.spec.Key(doc)
	if err != nil {
		return nil, err
	}
	if len(key) > k.maxKey {
		return nil, fmt.Errorf("%w: the document's key is %d bytes, the limit is %d", index.ErrBadDoc, len(key), k.maxKey)
	}
	return key, nil
}

// checkDoc checks that doc, written under key in an index store, gives
// that key.
func (k keyer) checkDoc(key, doc []byte) error {
	got, err := k.docKey(doc)
	if err != nil {
		return reject(errKeyMismatch, "the value must be a JSON object whose indexed fields (%s) give the key: %v", fieldNames(k.spec), err)
	}
	if !bytes.Equal(got, key) {
		return reject(errKeyMismatch, "the value's indexed fields (%s) give the key %s, not %s: write it under its own key, or POST it to items", fieldNames(k.spec), k.show(got), k.show(key))
	}
	return nil
}

// show renders a stored key for a message, as the API writes it.
func (k keyer) show(key []byte) string {
	e := k.encode(key)
	if e.Key == nil {
		return "(base64) " + e.Base64
	}
	b, _ := json.Marshal(e.Key)
	return string(b)
}

// encoded is a key in an answer: exactly one of Key and Base64 is set.
type encoded struct {
	Key    any
	Base64 string
}

// encode renders a stored key for JSON: the string of a plain store's key,
// the values of an index store's; base64 for a key that is neither (not
// UTF-8, or not a canonical key of the specification).
func (k keyer) encode(key []byte) encoded {
	if k.indexed() {
		if values, err := k.spec.Decode(key); err == nil {
			return encoded{Key: values}
		}
	} else if utf8.Valid(key) {
		return encoded{Key: string(key)}
	}
	return encoded{Base64: base64.StdEncoding.EncodeToString(key)}
}

// value renders a stored value: as itself when it is JSON, else base64.
func value(v []byte) (json.RawMessage, string) {
	if json.Valid(v) {
		return json.RawMessage(v), ""
	}
	return nil, base64.StdEncoding.EncodeToString(v)
}

// fieldNames lists a specification's fields for messages.
func fieldNames(spec index.Spec) string {
	var b bytes.Buffer
	for i, f := range spec {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", f.Name)
	}
	return b.String()
}

// clip shortens text for a message.
func clip(text []byte) string {
	const max = 64
	if len(text) <= max {
		return string(text)
	}
	return string(text[:max]) + "..."
}
