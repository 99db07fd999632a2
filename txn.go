package sop

import (
	"context"
	"fmt"

	"github.com/sopd/sop/journal"
)

// Compare is a condition on one item, evaluated by the leader at commit
// time against the newest state.
type Compare struct {
	Store   string
	Key     []byte
	Version uint64 // the item exists with this version (the seq that last wrote it)
	Absent  bool   // the item does not exist (Version must be 0)
	Present bool   // the item exists, whatever its version (Version must be 0)
}

// Op is one write of a Txn.
type Op struct {
	Store  string
	Key    []byte
	Value  []byte
	Delete bool // remove Key; Value must be empty
}

// TxnRequest is a compare-and-set transaction for callers that do not run
// interactive code: if every Compare holds, the Success ops commit, else
// the Failure ops do. TxID, when set, makes a retry after an ambiguous
// failure safe: Txn returns ErrAlreadyCommitted when the leader still
// remembers the id (the last 65,536 entries it applied) or the journal
// drops the second append as a duplicate (within its dedupe window, 2
// minutes by default). A retry outside both that would append nothing
// (its Compare now fails and Failure is empty) cannot be told apart.
type TxnRequest struct {
	TxID    string
	Compare []Compare
	Success []Op
	Failure []Op
}

// TxnResult says which branch ran and at which seq (0 when the branch had
// no ops).
type TxnResult struct {
	Succeeded bool
	Seq       uint64
}

// Txn commits a compare-and-set transaction on domain. It never conflicts:
// the leader evaluates the comparisons on the newest state, atomically with
// the commit.
func (db *DB) Txn(ctx context.Context, domain string, req TxnRequest) (TxnResult, error) {
	d, err := db.domain(domain)
	if err != nil {
		return TxnResult{}, err
	}
	r := &commitReq{txID: req.TxID}
	if r.txID == "" {
		r.txID = newTxID()
	} else if err := journal.CheckTxID(r.txID); err != nil {
		return TxnResult{}, fmt.Errorf("%w: tx id: %w", ErrBadTxn, err)
	}
	if r.compare, err = conds(req.Compare); err != nil {
		return TxnResult{}, err
	}
	if r.ops, err = ops(req.Success); err != nil {
		return TxnResult{}, fmt.Errorf("success: %w", err)
	}
	if r.failure, err = ops(req.Failure); err != nil {
		return TxnResult{}, fmt.Errorf("failure: %w", err)
	}
	if r.compare == nil {
		r.compare = []journal.Cond{} // always choose the success branch
	}
	res := d.submit(ctx, r)
	return TxnResult{Succeeded: res.succeeded, Seq: res.seq}, res.err
}

func conds(cs []Compare) ([]journal.Cond, error) {
	out := make([]journal.Cond, 0, len(cs))
	for i, c := range cs {
		jc := journal.Cond{Store: c.Store, Key: c.Key, Version: c.Version}
		switch {
		case c.Absent && c.Version == 0 && !c.Present:
			jc.Kind = journal.CondAbsent
		case c.Present && c.Version == 0 && !c.Absent:
			jc.Kind = journal.CondPresent
		case c.Version != 0 && !c.Absent && !c.Present:
			jc.Kind = journal.CondVersion
		default:
			return nil, fmt.Errorf("%w: compare %d: set exactly one of Version, Absent and Present", ErrBadTxn, i)
		}
		if err := checkTarget(c.Store, c.Key); err != nil {
			return nil, fmt.Errorf("compare %d: %w", i, err)
		}
		out = append(out, jc)
	}
	return out, nil
}

func ops(in []Op) ([]journal.Op, error) {
	var out []journal.Op
	for i, o := range in {
		if err := checkTarget(o.Store, o.Key); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
		op := journal.Op{Kind: journal.OpPut, Store: o.Store, Key: o.Key, Value: o.Value}
		switch {
		case o.Delete && len(o.Value) > 0:
			return nil, fmt.Errorf("%w: op %d: a delete has no value", ErrBadTxn, i)
		case o.Delete:
			op.Kind = journal.OpDelete
		case len(o.Value) > journal.MaxValueSize:
			return nil, fmt.Errorf("%w: op %d: value of %d bytes, the limit is %d", ErrTooLarge, i, len(o.Value), journal.MaxValueSize)
		}
		out = append(out, op)
	}
	return out, nil
}

func checkTarget(store string, key []byte) error {
	if err := journal.CheckStoreName(store); err != nil {
		return fmt.Errorf("%w: %w", ErrBadName, err)
	}
	return checkKey(key)
}
