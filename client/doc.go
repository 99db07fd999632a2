// Package client talks to a remote sopd node over its HTTP/JSON API (see
// docs/API.md). Its shape follows the embedded API of package sop where the
// two can be alike: domains hold stores, stores hold items, each item has
// the version (seq) that last wrote it, Txn commits a compare-and-set
// transaction, and Watch follows a domain's change stream.
//
//	c, err := client.New("http://127.0.0.1:7070", client.Options{Token: tok})
//	...
//	seq, err := c.Put(ctx, "default", "accounts", client.StringKey("alice"), json.RawMessage(`{"balance":100}`))
//	it, err := c.Get(ctx, "default", "accounts", client.StringKey("alice"), client.GetOptions{MinSeq: seq})
//	for it, err := range c.Scan(ctx, "default", "accounts", client.ScanOptions{Prefix: client.StringKey("a")}) {
//		...
//	}
//
// # Keys
//
// A Key names an item. A plain store's key is UTF-8 text: StringKey("alice").
// A store with an index specification keys each item by the values of its
// fields, which the API writes as a JSON array: IndexKey("Smith", 42), or
// IndexKeyJSON(`["Smith",42]`) when the array text is at hand. Keys in
// answers (Item.Key, Event.Key) come back in the same form, so they can be
// passed to Get, Put and Delete as they are. In a path a key travels
// percent-encoded (a key may hold '/'); the client does the encoding.
//
// # Errors
//
// A call the server refuses returns a *Error carrying the HTTP status, the
// API's error code and message, and for a compacted position the first
// retained seq. errors.Is matches it against the sentinel errors
// (ErrNotFound, ErrConflict, ErrConditionFailed, ErrCompacted, ...). Input
// the client can check itself (a value that is not JSON, a Key that could
// not be built) fails before any request with an error wrapping
// ErrBadRequest.
//
// # Clusters
//
// Any node of a cluster takes any request: a follower forwards writes to
// the domain's leader. With Options.WriteToLeader the client sends writes
// to the leader itself (learned from GET /v1/status) and keeps reading
// from its endpoint, where reads wait for its last write.
//
// # Retries
//
// The client retries nothing except a Watcher's dropped connection. A write
// that fails with ErrUnavailable or a network error may or may not have
// committed; give writes an IdempotencyKey (PutOptions, DeleteOptions,
// TxnRequest) so that retrying them is safe.
package client
