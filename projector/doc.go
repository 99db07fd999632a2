// Package projector turns committed journal entries into B-tree mutations
// and change events. It is deterministic and pure: the same entries applied
// to the same state give byte-identical trees, whether the leader applies
// them live, a follower replays them, or a node rebuilds from a snapshot. It
// reads no clock, does no I/O of its own (only through the Writer it is
// given) and keeps no globals.
//
// # Items
//
// A store is one B-tree of the domain's forest. Its keys are the items'
// keys; each value is the item encoding
//
//	uvarint  version: the seq of the entry that last wrote the item (never 0)
//	bytes    the item's value, to the end
//
// # Entries
//
// Apply takes one decoded entry and its seq. It first checks the whole
// entry against the state without changing anything:
//
//   - every condition holds (a condition on a store that does not exist
//     sees every item absent);
//   - every op names a store that exists at that point of the entry (ops
//     apply in order, so an entry may create a store and then put into it);
//     a create-store names a store that does not;
//   - puts into a store with an index specification carry a key that
//     decodes under it (package index).
//
// If any check fails, the entry is rejected: Apply changes nothing and
// returns an error wrapping ErrRejected. Every node rejects the same entries,
// so a rejected entry is a deterministic no-op, not a fault; the leader runs
// the same checks before appending, so only entries written by something
// else are ever rejected. Otherwise every op is applied and one Event per
// change is emitted, in op order.
//
// # Catalog
//
// The Catalog lists a domain's stores: name, tree id, index specification
// and the seq that created it. It is immutable; Apply replaces the
// projector's catalog when an entry creates or drops a store. Tree ids are
// never reused: a dropped store's id stays retired. Its encoding (stored in
// the node's checkpoint) is
//
//	byte     catalog format version: 1
//	uvarint  next tree id
//	uvarint  number of stores, then per store, sorted by name:
//	  uvarint+bytes  name
//	  uvarint        tree id
//	  uvarint        created seq
//	  uvarint        number of index fields, then per field:
//	    uvarint+bytes  field name
//	    byte           0 ascending, 1 descending
//
// # State hash
//
// Hash digests a domain's whole projected state with SHA-256, so two nodes
// or two runs can be compared. The digest covers, for every store in name
// order: its name, index specification and item count, then every item in
// key order: key, version and value, each length-prefixed (the layout is in
// hash.go). Tree ids and page layout are not part of it.
package projector
