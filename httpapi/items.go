package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sopd/sop"
)

// Read waits: ?timeout= bounds how long a read waits for ?min_seq= or
// ?linearizable=true.
const (
	defaultWaitTimeout = 10 * time.Second
	maxWaitTimeout     = 60 * time.Second
)

// itemJSON is one item in an answer. A key that is not UTF-8 comes as
// key_base64 and a value that is not JSON as value_base64 (both written
// through the Go API; the HTTP API writes neither).
type itemJSON struct {
	Key         any             `json:"key,omitempty"`
	KeyBase64   string          `json:"key_base64,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 *string         `json:"value_base64,omitempty"`
	Version     uint64          `json:"version"`
}

// newItemJSON renders it, a stored item of k's store.
func newItemJSON(k keyer, it sop.Item) itemJSON {
	key := k.encode(it.Key)
	out := itemJSON{Key: key.Key, KeyBase64: key.Base64, Version: it.Version}
	if v, b64 := value(it.Value); v != nil {
		out.Value = v
	} else {
		out.ValueBase64 = &b64
	}
	return out
}

// writeAnswer is the answer to an item write.
type writeAnswer struct {
	Seq uint64 `json:"seq"`
	// Key is the key an index store gave a POSTed document.
	Key any `json:"key,omitempty"`
	// AlreadyCommitted: the Idempotency-Key was committed before, at Seq;
	// this request wrote nothing.
	AlreadyCommitted bool `json:"already_committed,omitempty"`
}

// getItem answers GET .../items/{key}: the item, or 404 key_not_found.
func (s *Server) getItem(w http.ResponseWriter, r *http.Request) error {
	domain, store := r.PathValue("d"), r.PathValue("s")
	p, err := queryParams(r, "min_seq", "linearizable", "timeout")
	if err != nil {
		return err
	}
	if err := s.awaitApplied(r.Context(), domain, p); err != nil {
		return err
	}
	k, err := s.keyerFor(domain, store)
	if err != nil {
		return err
	}
	key, err := k.fromPath(r.PathValue("key"))
	if err != nil {
		return err
	}
	var it sop.Item
	var found bool
	err = s.db.View(r.Context(), domain, func(tx *sop.Tx) error {
		it, found, err = tx.Get(store, key)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return reject(errKeyNotFound, "no item %s in store %q", k.show(key), store)
	}
	writeJSON(w, http.StatusOK, newItemJSON(k, it))
	return nil
}

// awaitApplied waits, as the read's parameters ask, until the node has
// applied ?min_seq= or (?linearizable=true) the journal's last seq as it
// is now; 503 not_ready when ?timeout= passes first.
func (s *Server) awaitApplied(ctx context.Context, domain string, p params) error {
	minSeq, err := p.uint("min_seq", 0)
	if err != nil {
		return err
	}
	linear, err := p.bool("linearizable")
	if err != nil {
		return err
	}
	timeout, err := p.duration("timeout", defaultWaitTimeout, maxWaitTimeout)
	if err != nil || (minSeq == 0 && !linear) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := minSeq
	if linear {
		_, last, err := s.db.JournalBounds(ctx, domain)
		if err != nil {
			return notReady(ctx, err, "learning the journal's last seq of domain %s took over %s", domain, timeout)
		}
		target = max(target, last)
	}
	if err := s.db.WaitApplied(ctx, domain, target); err != nil {
		return notReady(ctx, err, "this node has not applied seq %d of domain %s within %s", target, domain, timeout)
	}
	return nil
}

// notReady turns a wait that ran out of time into 503 not_ready; other
// errors pass.
func notReady(ctx context.Context, err error, format string, args ...any) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return reject(errNotReady, "%s: retry later, with a longer ?timeout=, or on another node", fmt.Sprintf(format, args...))
	}
	return err
}

// putItem answers PUT .../items/{key}: the body is the value (any JSON;
// on an index store an object whose indexed fields give the key).
func (s *Server) putItem(w http.ResponseWriter, r *http.Request) error {
	domain, store := r.PathValue("d"), r.PathValue("s")
	p, err := queryParams(r, "if_version", "if_absent")
	if err != nil {
		return err
	}
	k, err := s.keyerFor(domain, store)
	if err != nil {
		return err
	}
	key, err := k.fromPath(r.PathValue("key"))
	if err != nil {
		return err
	}
	val, err := s.readValue(w, r)
	if err != nil {
		return err
	}
	if k.indexed() {
		if err := k.checkDoc(key, val); err != nil {
			return err
		}
	}
	return s.writeItem(w, r, p, k, sop.Op{Store: store, Key: key, Value: val}, false)
}

// postItem answers POST .../items on an index store: the body is a
// document, stored under the key its indexed fields give.
func (s *Server) postItem(w http.ResponseWriter, r *http.Request) error {
	domain, store := r.PathValue("d"), r.PathValue("s")
	p, err := queryParams(r, "if_version", "if_absent")
	if err != nil {
		return err
	}
	k, err := s.keyerFor(domain, store)
	if err != nil {
		return err
	}
	if !k.indexed() {
		return reject(sop.ErrBadIndex, "store %q has no index, so a document has no key of its own: PUT it to items/{key}", store)
	}
	doc, err := s.readValue(w, r)
	if err != nil {
		return err
	}
	key, err := k.docKey(doc)
	if err != nil {
		return fmt.Errorf("%w: store %q: %w", sop.ErrBadIndex, store, err)
	}
	return s.writeItem(w, r, p, k, sop.Op{Store: store, Key: key, Value: doc}, true)
}

// deleteItem answers DELETE .../items/{key}. Deleting an absent item is
// not an error.
func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) error {
	domain, store := r.PathValue("d"), r.PathValue("s")
	p, err := queryParams(r, "if_version")
	if err != nil {
		return err
	}
	k, err := s.keyerFor(domain, store)
	if err != nil {
		return err
	}
	key, err := k.fromPath(r.PathValue("key"))
	if err != nil {
		return err
	}
	return s.writeItem(w, r, p, k, sop.Op{Store: store, Key: key, Delete: true}, false)
}

// readValue reads a value body: one JSON value of at most MaxValueSize
// bytes (and MaxBodySize), kept as sent.
func (s *Server) readValue(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := readBody(w, r, min(int64(s.opts.MaxValueSize), s.opts.MaxBodySize))
	if err != nil {
		return nil, err
	}
	return body, checkValue(body, "the body")
}

// checkValue requires a value to be one JSON value.
func checkValue(v []byte, what string) error {
	if len(v) == 0 {
		return reject(errBadJSON, "%s is empty: send the JSON value to store", what)
	}
	if !json.Valid(v) {
		var x any
		err := json.Unmarshal(v, &x)
		return reject(errBadJSON, "%s is not JSON: %s", what, jsonProblem(err))
	}
	return nil
}

// writeItem commits op alone, under ?if_version= or ?if_absent=true, and
// answers its seq (and, when withKey, the key).
func (s *Server) writeItem(w http.ResponseWriter, r *http.Request, p params, k keyer, op sop.Op, withKey bool) error {
	domain := r.PathValue("d")
	cond, err := condition(p, op)
	if err != nil {
		return err
	}
	req := sop.TxnRequest{TxID: r.Header.Get("Idempotency-Key"), Success: []sop.Op{op}}
	if cond != nil {
		req.Compare = []sop.Compare{*cond}
	}
	res, err := s.commitTxn(r.Context(), domain, req)
	ans := writeAnswer{Seq: res.Seq}
	if withKey {
		ans.Key = k.encode(op.Key).Key
	}
	switch {
	case errors.Is(err, sop.ErrAlreadyCommitted):
		ans.AlreadyCommitted = true
	case err != nil:
		return err
	case !res.Succeeded:
		return conditionFailed(k, op.Key, cond)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// condition is the compare of ?if_version= or ?if_absent=true, nil when
// neither is given.
func condition(p params, op sop.Op) (*sop.Compare, error) {
	version, err := p.uint("if_version", 0)
	if err != nil {
		return nil, err
	}
	absent, err := p.bool("if_absent")
	if err != nil {
		return nil, err
	}
	_, hasVersion := p.str("if_version")
	switch {
	case hasVersion && absent:
		return nil, reject(errBadParam, "if_version and if_absent=true cannot both hold: give one")
	case hasVersion && version == 0:
		return nil, reject(errBadParam, "if_version=0: versions start at 1; use if_absent=true for an item that must not exist")
	case hasVersion:
		return &sop.Compare{Store: op.Store, Key: op.Key, Version: version}, nil
	case absent:
		return &sop.Compare{Store: op.Store, Key: op.Key, Absent: true}, nil
	}
	return nil, nil
}

// conditionFailed is the 409 of a write whose condition did not hold.
func conditionFailed(k keyer, key []byte, cond *sop.Compare) error {
	if cond.Absent {
		return reject(errConditionFailed, "item %s exists (if_absent=true): nothing was written", k.show(key))
	}
	return reject(errConditionFailed, "item %s is not at version %d (it is absent or was written since): nothing was written; read it again and retry", k.show(key), cond.Version)
}

// commitTxn runs req, timing it for sop_commit_latency_seconds.
func (s *Server) commitTxn(ctx context.Context, domain string, req sop.TxnRequest) (sop.TxnResult, error) {
	defer s.metrics.timeCommit()()
	return s.db.Txn(ctx, domain, req)
}
