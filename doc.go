// Package sop is an event-sourced persistence engine: ordered key/value
// stores with serializable ACID transactions, whose every commit is first
// appended to a write-ahead execution log (a NATS JetStream stream per
// domain) and then projected into copy-on-write B-tree pages on disk.
//
// Open a node with Open; each domain is a unit of ordering with its own
// journal and stores. Update runs an interactive, serializable transaction
// (optimistic: the domain leader rejects it with ErrConflict when something
// it read changed, and Update retries); View runs a read-only one; Txn
// commits a compare-and-set transaction without interactive code.
//
//	db, err := sop.Open(ctx, sop.Options{Dir: "data"})
//	...
//	_, err = db.CreateStore(ctx, sop.DefaultDomain, "accounts", nil)
//	seq, err := db.Update(ctx, sop.DefaultDomain, func(tx *sop.Tx) error {
//		return tx.Put("accounts", []byte("alice"), []byte("100"))
//	})
//
// docs/ARCHITECTURE.md describes the write path, group commit, projection
// and checkpoints.
package sop
