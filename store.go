package sop

import (
	"context"
	"fmt"

	"github.com/sopd/sop/index"
	"github.com/sopd/sop/journal"
)

// StoreInfo describes a store.
type StoreInfo struct {
	Name    string
	Index   index.Spec // empty for a plain byte-key store
	Count   uint64     // items, as of the seq the listing was taken at
	Created uint64     // seq of the entry that created it
}

// CreateStore creates store name in domain. A store with an index
// specification keys its items by compound keys built from documents (see
// package index and Tx.PutDoc). Creating a store that exists with the same
// specification is not an error: created is false. One that exists with
// another specification returns ErrStoreExists.
func (db *DB) CreateStore(ctx context.Context, domain, name string, spec index.Spec) (created bool, err error) {
	d, err := db.domain(domain)
	if err != nil {
		return false, err
	}
	if err := journal.CheckStoreName(name); err != nil {
		return false, fmt.Errorf("%w: %w", ErrBadName, err)
	}
	fields, err := journalIndex(spec)
	if err != nil {
		return false, err
	}
	op := journal.Op{Kind: journal.OpCreateStore, Store: name, Index: fields}
	res := d.submit(ctx, &commitReq{txID: newTxID(), ops: []journal.Op{op}, ensure: true})
	if res.err != nil {
		return false, fmt.Errorf("create store %q: %w", name, res.err)
	}
	return res.seq != 0, nil
}

// DropStore removes store name and all its items from domain.
func (db *DB) DropStore(ctx context.Context, domain, name string) (uint64, error) {
	d, err := db.domain(domain)
	if err != nil {
		return 0, err
	}
	if err := journal.CheckStoreName(name); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadName, err)
	}
	op := journal.Op{Kind: journal.OpDropStore, Store: name}
	res := d.submit(ctx, &commitReq{txID: newTxID(), ops: []journal.Op{op}})
	if res.err != nil {
		return 0, fmt.Errorf("drop store %q: %w", name, res.err)
	}
	return res.seq, nil
}

// Stores lists the stores of domain in name order, as of the node's
// applied seq, which it also returns.
func (db *DB) Stores(domain string) ([]StoreInfo, uint64, error) {
	d, err := db.domain(domain)
	if err != nil {
		return nil, 0, err
	}
	r, v, err := d.snapshot()
	if err != nil {
		return nil, 0, err
	}
	defer r.Release()
	var out []StoreInfo
	for _, s := range v.cat.Stores() {
		info := StoreInfo{Name: s.Name, Index: s.Index, Created: s.Created}
		if t, ok := r.Tree(s.Tree); ok {
			info.Count = t.Count
		}
		out = append(out, info)
	}
	return out, v.seq, nil
}

func journalIndex(spec index.Spec) ([]journal.IndexField, error) {
	if len(spec) == 0 {
		return nil, nil
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadIndex, err)
	}
	out := make([]journal.IndexField, len(spec))
	for i, f := range spec {
		out[i] = journal.IndexField{Field: f.Name, Desc: f.Desc}
	}
	return out, nil
}
