package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
)

// txnBody is the body of POST /v1/domains/{d}/txn.
type txnBody struct {
	TxID    string        `json:"txid"`
	Compare []compareJSON `json:"compare"`
	Success []opJSON      `json:"success"`
	Failure []opJSON      `json:"failure"`
}

// compareJSON is one condition: set exactly one of version, absent and
// present.
type compareJSON struct {
	Store   string          `json:"store"`
	Key     json.RawMessage `json:"key"`
	Version uint64          `json:"version"`
	Absent  bool            `json:"absent"`
	Present bool            `json:"present"`
}

// opJSON is one write. An index store's put may leave out the key: the
// value's indexed fields give it.
type opJSON struct {
	Op    string          `json:"op"` // "put" or "delete"
	Store string          `json:"store"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// txnAnswer is the answer of a txn. Succeeded is left out when a retry
// with a committed txid learns only the seq.
type txnAnswer struct {
	Succeeded        *bool  `json:"succeeded,omitempty"`
	Seq              uint64 `json:"seq"`
	AlreadyCommitted bool   `json:"already_committed,omitempty"`
}

// txn answers POST /v1/domains/{d}/txn: if every compare holds the
// success ops commit, else the failure ops, atomically.
func (s *Server) txn(w http.ResponseWriter, r *http.Request) error {
	domain := r.PathValue("d")
	var tb txnBody
	if err := s.readJSON(w, r, &tb); err != nil {
		return err
	}
	specs, err := s.specs(domain)
	if err != nil {
		return err
	}
	req, err := s.txnRequest(r, specs, tb)
	if err != nil {
		return err
	}
	ans, err := answerTxn(s.commitTxn(r.Context(), domain, req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// answerTxn is the answer of a txn that ended with res and err: a retry
// of a committed txid is answered with its seq alone; other errors pass.
func answerTxn(res sop.TxnResult, err error) (txnAnswer, error) {
	switch {
	case errors.Is(err, sop.ErrAlreadyCommitted):
		return txnAnswer{Seq: res.Seq, AlreadyCommitted: true}, nil
	case err != nil:
		return txnAnswer{}, err
	}
	return txnAnswer{Succeeded: &res.Succeeded, Seq: res.Seq}, nil
}

// txnRequest resolves a txn body's keys against the domain's stores.
func (s *Server) txnRequest(r *http.Request, specs storeSpecs, tb txnBody) (sop.TxnRequest, error) {
	req := sop.TxnRequest{TxID: tb.TxID}
	if h := r.Header.Get("Idempotency-Key"); h != "" {
		if req.TxID != "" && req.TxID != h {
			return req, reject(sop.ErrBadTxn, "the Idempotency-Key header %q and txid %q differ: give one, or the same in both", h, req.TxID)
		}
		req.TxID = h
	}
	if n := len(tb.Compare); n > journal.MaxConds {
		return req, reject(sop.ErrTooLarge, "%d compares: the limit is %d", n, journal.MaxConds)
	}
	if n := max(len(tb.Success), len(tb.Failure)); n > journal.MaxOps {
		return req, reject(sop.ErrTooLarge, "a branch of %d ops: the limit is %d", n, journal.MaxOps)
	}
	for i, c := range tb.Compare {
		cmp, err := resolveCompare(specs, c, fmt.Sprintf("compare[%d]", i))
		if err != nil {
			return req, err
		}
		req.Compare = append(req.Compare, cmp)
	}
	var err error
	if req.Success, err = s.resolveOps(specs, tb.Success, "success"); err != nil {
		return req, err
	}
	req.Failure, err = s.resolveOps(specs, tb.Failure, "failure")
	return req, err
}

// resolveCompare turns one JSON compare into sop's.
func resolveCompare(specs storeSpecs, c compareJSON, what string) (sop.Compare, error) {
	k, err := specs.keyer(c.Store)
	if err != nil {
		return sop.Compare{}, fmt.Errorf("%s: %w", what, err)
	}
	key, err := k.fromJSON(c.Key, what)
	if err != nil {
		return sop.Compare{}, err
	}
	return sop.Compare{Store: c.Store, Key: key, Version: c.Version, Absent: c.Absent, Present: c.Present}, nil
}

// resolveOps turns a branch's JSON ops into sop's.
func (s *Server) resolveOps(specs storeSpecs, in []opJSON, branch string) ([]sop.Op, error) {
	var out []sop.Op
	for i, o := range in {
		op, err := s.resolveOp(specs, o, fmt.Sprintf("%s[%d]", branch, i))
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, nil
}

// resolveOp turns one JSON op into sop's, checking its value as PUT
// items does.
func (s *Server) resolveOp(specs storeSpecs, o opJSON, what string) (sop.Op, error) {
	k, err := specs.keyer(o.Store)
	if err != nil {
		return sop.Op{}, fmt.Errorf("%s: %w", what, err)
	}
	switch o.Op {
	case "delete":
		if len(o.Value) > 0 {
			return sop.Op{}, reject(sop.ErrBadTxn, "%s: a delete has no value: leave \"value\" out", what)
		}
		key, err := k.fromJSON(o.Key, what)
		return sop.Op{Store: o.Store, Key: key, Delete: true}, err
	case "put":
		return s.resolvePut(k, o, what)
	}
	return sop.Op{}, reject(sop.ErrBadTxn, "%s: op %q: use \"put\" or \"delete\"", what, o.Op)
}

// resolvePut checks a put's value and key.
func (s *Server) resolvePut(k keyer, o opJSON, what string) (sop.Op, error) {
	if len(o.Value) == 0 {
		return sop.Op{}, reject(sop.ErrBadTxn, "%s: a put needs a \"value\" (any JSON value)", what)
	}
	if len(o.Value) > s.opts.MaxValueSize {
		return sop.Op{}, reject(sop.ErrTooLarge, "%s: value of %d bytes: the limit is %d", what, len(o.Value), s.opts.MaxValueSize)
	}
	op := sop.Op{Store: o.Store, Value: o.Value}
	var err error
	switch {
	case k.indexed() && len(o.Key) == 0:
		if op.Key, err = k.docKey(o.Value); err != nil {
			return op, fmt.Errorf("%w: %s: store %q: %w", sop.ErrBadIndex, what, o.Store, err)
		}
	case k.indexed():
		if op.Key, err = k.fromJSON(o.Key, what); err != nil {
			return op, err
		}
		if err := k.checkDoc(op.Key, o.Value); err != nil {
			return op, fmt.Errorf("%s: %w", what, err)
		}
	default:
		op.Key, err = k.fromJSON(o.Key, what)
	}
	return op, err
}
