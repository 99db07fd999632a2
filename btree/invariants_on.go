//go:build invariants

package btree

// invariants enables expensive self-checks; build with -tags invariants.
const invariants = true
