package sop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sopd/sop/journal"
)

// Write forwarding: in cluster mode (Options.Leases) a follower sends each
// commit to the domain's leader over NATS request/reply, on the subject
// commitSubject names; the leader commits it like one of its own and
// answers its seq, and the follower answers its caller once it has
// applied that seq itself (so the caller reads its own write next).

// forwardTimeout bounds one forwarded commit.
const forwardTimeout = 30 * time.Second

// commitSubject is where domain d's leader takes forwarded commits.
func (d *domain) commitSubject() string {
	return "sop.commit." + d.db.opts.ClusterName + "." + d.name + "." + d.streamIncarnation
}

// wireCommit is a commit request on the wire (JSON; byte slices as base64).
type wireCommit struct {
	TxID        string         `json:"txid"`
	ReadVersion uint64         `json:"rv"`
	Points      [][]byte       `json:"points,omitempty"` // storeKey(store, key)
	Ranges      []wireRange    `json:"ranges,omitempty"`
	Stores      []string       `json:"stores,omitempty"`
	Reads       bool           `json:"reads,omitempty"` // an interactive transaction: check the read set
	Ops         []journal.Op   `json:"ops,omitempty"`
	Compare     []journal.Cond `json:"compare,omitempty"`
	Failure     []journal.Op   `json:"failure,omitempty"`
	Txn         bool           `json:"txn,omitempty"` // Compare was given (even empty)
	Ensure      bool           `json:"ensure,omitempty"`
}

type wireRange struct {
	Store string `json:"store"`
	Start []byte `json:"start,omitempty"`
	End   []byte `json:"end,omitempty"`
}

// wireResult is the leader's answer.
type wireResult struct {
	Seq       uint64 `json:"seq"`
	Succeeded bool   `json:"succeeded"`
	Code      string `json:"code,omitempty"` // the sentinel error, by name
	Message   string `json:"message,omitempty"`
}

// wireErrors names the sentinel errors a forwarded commit can end with, in
// the order they are tried: an error that wraps several is sent as the
// first (the most specific).
var wireErrors = []struct {
	code string
	err  error
}{
	{"already_committed", ErrAlreadyCommitted}, {"not_leader", ErrNotLeader}, {"domain_failed", ErrDomainFailed},
	{"store_not_found", ErrStoreNotFound}, {"store_exists", ErrStoreExists}, {"bad_index", ErrBadIndex},
	{"bad_txn", ErrBadTxn}, {"bad_key", ErrBadKey}, {"bad_name", ErrBadName}, {"too_large", ErrTooLarge},
	{"conflict", ErrConflict}, {"storage_failed", ErrStorageFailed}, {"closed", ErrClosed}, {"unavailable", ErrUnavailable},
}

// wireCode is the code of err (internal when no sentinel explains it).
func wireCode(err error) string {
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return w.code
		}
	}
	return "internal"
}

// wireError is the sentinel of a code; ErrUnavailable for one this build
// does not know.
func wireError(code string) error {
	for _, w := range wireErrors {
		if w.code == code {
			return w.err
		}
	}
	return ErrUnavailable
}

func encodeCommit(r *commitReq) ([]byte, error) {
	w := wireCommit{TxID: r.txID, ReadVersion: r.readVersion, Ops: r.ops, Compare: r.compare,
		Failure: r.failure, Txn: r.compare != nil, Ensure: r.ensure}
	if r.reads != nil {
		w.Reads = true
		for p := range r.reads.points {
			w.Points = append(w.Points, []byte(p))
		}
		for _, kr := range r.reads.ranges {
			w.Ranges = append(w.Ranges, wireRange{Store: kr.store, Start: kr.start, End: kr.end})
		}
		for s := range r.reads.stores {
			w.Stores = append(w.Stores, s)
		}
	}
	return json.Marshal(w)
}

func decodeCommit(b []byte) (*commitReq, error) {
	var w wireCommit
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	r := &commitReq{txID: w.TxID, readVersion: w.ReadVersion, ops: w.Ops, compare: w.Compare, failure: w.Failure, ensure: w.Ensure}
	if w.Txn && r.compare == nil {
		r.compare = []journal.Cond{}
	}
	if w.Reads {
		r.reads = &readSet{}
		for _, p := range w.Points {
			if r.reads.points == nil {
				r.reads.points = map[string]struct{}{}
			}
			r.reads.points[string(p)] = struct{}{}
		}
		for _, kr := range w.Ranges {
			r.reads.ranges = append(r.reads.ranges, keyRange{store: kr.Store, start: kr.Start, end: kr.End})
		}
		for _, s := range w.Stores {
			r.reads.addStore(s)
		}
	}
	return r, nil
}

// serveCommits takes forwarded commits while l leads; the returned func
// stops taking them.
func (d *domain) serveCommits() (stop func(), err error) {
	return d.db.conn.Serve(d.commitSubject(), func(b []byte) []byte {
		var res commitResult
		if r, err := decodeCommit(b); err != nil {
			res.err = fmt.Errorf("%w: undecodable forwarded commit: %w", ErrBadTxn, err)
		} else {
			r.forwarded = true
			ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
			res = d.submit(ctx, r)
			cancel()
		}
		out := wireResult{Seq: res.seq, Succeeded: res.succeeded}
		if res.err != nil {
			out.Code, out.Message = wireCode(res.err), res.err.Error()
		}
		b, _ = json.Marshal(out)
		return b
	})
}

// forward sends req to the domain's leader and, once it committed, waits
// until this node applied the commit.
func (d *domain) forward(ctx context.Context, req *commitReq) commitResult {
	b, err := encodeCommit(req)
	if err != nil {
		return commitResult{err: fmt.Errorf("%w: %w", ErrBadTxn, err)}
	}
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	ans, err := d.db.conn.Request(fctx, d.commitSubject(), b)
	switch {
	case errors.Is(err, journal.ErrNoResponder):
		return commitResult{err: fmt.Errorf("%w: domain %s has no leader right now; retry shortly", ErrNotLeader, d.name)}
	case err != nil:
		return commitResult{err: fmt.Errorf("%w: forwarding the commit to domain %s's leader failed, its outcome is unknown: %w", ErrUnavailable, d.name, err)}
	}
	var w wireResult
	if err := json.Unmarshal(ans, &w); err != nil {
		return commitResult{err: fmt.Errorf("%w: the leader's answer does not decode: %w", ErrUnavailable, err)}
	}
	res := commitResult{seq: w.Seq, succeeded: w.Succeeded}
	if w.Code != "" {
		res.err = fmt.Errorf("%w: (from the leader) %s", wireError(w.Code), w.Message)
	}
	if res.seq > 0 && (res.err == nil || errors.Is(res.err, ErrAlreadyCommitted)) {
		if err := d.db.WaitApplied(ctx, d.name, res.seq); err != nil {
			return commitResult{seq: res.seq, succeeded: res.succeeded, err: fmt.Errorf("%w: committed at seq %d, but this node has not applied it yet: %w", ErrUnavailable, res.seq, err)}
		}
	}
	return res
}
