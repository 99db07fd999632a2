package sop

import (
	"fmt"

	"github.com/sopd/sop/projector"
)

// Hash returns the state hash of domain (SHA-256 over every store's keys,
// values and versions in order; the layout is in package projector) and
// the applied seq it describes. Two nodes, or a live node and a replay,
// hold the same state at a seq exactly when their hashes there are equal.
func (db *DB) Hash(domain string) (seq uint64, sum []byte, err error) {
	d, err := db.domain(domain)
	if err != nil {
		return 0, nil, err
	}
	r, v, err := d.snapshot()
	if err != nil {
		return 0, nil, err
	}
	defer r.Release()
	sum, err = projector.Hash(r, v.cat)
	if err != nil {
		return 0, nil, fmt.Errorf("hash domain %s: %w", domain, err)
	}
	return v.seq, sum, nil
}

// Applied returns the seq of the last entry domain's projection applied on
// this node.
func (db *DB) Applied(domain string) (uint64, error) {
	d, err := db.domain(domain)
	if err != nil {
		return 0, err
	}
	return d.applied(), nil
}

// Check walks every page of domain's B-tree file and reports the first
// inconsistency (see btree.Forest.Check).
func (db *DB) Check(domain string) error {
	d, err := db.domain(domain)
	if err != nil {
		return err
	}
	if err := d.forest.Check(); err != nil {
		return fmt.Errorf("check domain %s: %w", domain, err)
	}
	return nil
}
