package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// key names a snapshot: a manifest row and its chunks.
type key struct{ domain, id string }

func (k key) String() string { return k.domain + "/" + k.id }

// row is a manifest row. A Put's row goes pending (complete and deleting
// false) -> complete; Delete, a failed Put and Cleanup take a row to
// deleting, remove chunks 0..reserved-1, then the row.
//
// Invariant: a chunk numbered n >= reserved is never written while the row
// is pending, so removing chunks below reserved removes all of them.
type row struct {
	id       string
	seq      uint64
	bytes    int64
	chunks   int
	digest   []byte // SHA-256 of the whole file
	created  time.Time
	complete bool
	deleting bool
	reserved int
	updated  time.Time
}

// when selects the rows markDeleting may change.
type when struct {
	complete bool      // the row's complete must equal this
	updated  time.Time // and, when not zero, its updated this
}

// tables is the store's access to the manifest and chunks tables, one
// method per CQL statement. Manifest rows change only through lightweight
// transactions (the methods returning applied), so that their changes are
// linearizable and never depend on clocks. It is wider than the interfaces
// at sop's boundaries because it is no boundary: it exists so that the
// Store's protocol can be tested without a Cassandra server.
type tables interface {
	// begin inserts k's pending row unless k has a row.
	begin(ctx context.Context, k key, seq uint64, now time.Time) (applied bool, err error)
	// reserve raises a pending row's reserved, unless the row is gone or
	// no longer pending.
	reserve(ctx context.Context, k key, reserved int, now time.Time) (applied bool, err error)
	// finish marks a pending row complete with r's bytes, chunks, digest
	// and created.
	finish(ctx context.Context, k key, r row) (applied bool, err error)
	// markDeleting takes the row to deleting with reserved, if it matches w.
	markDeleting(ctx context.Context, k key, w when, reserved int, now time.Time) (applied bool, err error)
	// drop removes a deleting row.
	drop(ctx context.Context, k key) (applied bool, err error)
	// get reads a row; serial reads it linearizably (after any
	// lightweight transaction in progress).
	get(ctx context.Context, k key, serial bool) (r row, found bool, err error)
	// list reads the rows of a domain, in any order.
	list(ctx context.Context, domain string) ([]row, error)
	putChunk(ctx context.Context, k key, n int, data []byte) error
	// getChunk returns chunk n; the slice is the caller's.
	getChunk(ctx context.Context, k key, n int) (data []byte, found bool, err error)
	deleteChunk(ctx context.Context, k key, n int) error
}

// cqlTables implements tables with gocql. Every statement names the
// keyspace, so one session serves any keyspace and none needs to exist when
// the session opens.
type cqlTables struct {
	s      *gocql.Session
	serial gocql.Consistency
	q      statements
}

type statements struct {
	begin, reserve, finish                            string
	markComplete, markPending, markPendingSince, drop string
	get, list                                         string
	putChunk, getChunk, deleteChunk                   string
}

func newCQLTables(s *gocql.Session, keyspace string, serial gocql.Consistency) *cqlTables {
	m, c := keyspace+".manifest", keyspace+".chunks"
	const where = " WHERE domain = ? AND id = ?"
	const mark = " SET complete = false, deleting = true, reserved = ?, updated = ?" + where
	return &cqlTables{s: s, serial: serial, q: statements{
		begin: "INSERT INTO " + m + " (domain, id, seq, complete, deleting, reserved, updated)" +
			" VALUES (?, ?, ?, false, false, 0, ?) IF NOT EXISTS",
		reserve: "UPDATE " + m + " SET reserved = ?, updated = ?" + where +
			" IF complete = false AND deleting = false",
		finish: "UPDATE " + m + " SET complete = true, bytes = ?, chunks = ?, digest = ?, created = ?, updated = ?" + where +
			" IF complete = false AND deleting = false",
		markComplete:     "UPDATE " + m + mark + " IF complete = true",
		markPending:      "UPDATE " + m + mark + " IF complete = false",
		markPendingSince: "UPDATE " + m + mark + " IF complete = false AND updated = ?",
		drop:             "DELETE FROM " + m + where + " IF deleting = true",
		get:              "SELECT id, seq, bytes, chunks, digest, created, complete, deleting, reserved, updated FROM " + m + where,
		list:             "SELECT id, seq, bytes, chunks, digest, created, complete, deleting, reserved, updated FROM " + m + " WHERE domain = ?",
		putChunk:         "INSERT INTO " + c + " (domain, id, n, data) VALUES (?, ?, ?, ?)",
		getChunk:         "SELECT data FROM " + c + where + " AND n = ?",
		deleteChunk:      "DELETE FROM " + c + where + " AND n = ?",
	}}
}

var _ tables = (*cqlTables)(nil)

// cas runs a lightweight transaction. Its previous values, returned when it
// does not apply, are not needed.
func (t *cqlTables) cas(ctx context.Context, stmt string, args ...any) (bool, error) {
	return t.s.Query(stmt, args...).SerialConsistency(t.serial).MapScanCASContext(ctx, map[string]any{})
}

func (t *cqlTables) begin(ctx context.Context, k key, seq uint64, now time.Time) (bool, error) {
	// seq is stored as a bigint, bit for bit: uint64 -> int64 -> uint64
	// is the identity.
	return t.cas(ctx, t.q.begin, k.domain, k.id, int64(seq), now)
}

func (t *cqlTables) reserve(ctx context.Context, k key, reserved int, now time.Time) (bool, error) {
	return t.cas(ctx, t.q.reserve, reserved, now, k.domain, k.id)
}

func (t *cqlTables) finish(ctx context.Context, k key, r row) (bool, error) {
	return t.cas(ctx, t.q.finish, r.bytes, r.chunks, r.digest, r.created, r.updated, k.domain, k.id)
}

func (t *cqlTables) markDeleting(ctx context.Context, k key, w when, reserved int, now time.Time) (bool, error) {
	switch {
	case w.complete:
		return t.cas(ctx, t.q.markComplete, reserved, now, k.domain, k.id)
	case w.updated.IsZero():
		return t.cas(ctx, t.q.markPending, reserved, now, k.domain, k.id)
	default:
		return t.cas(ctx, t.q.markPendingSince, reserved, now, k.domain, k.id, w.updated)
	}
}

func (t *cqlTables) drop(ctx context.Context, k key) (bool, error) {
	return t.cas(ctx, t.q.drop, k.domain, k.id)
}

func (t *cqlTables) get(ctx context.Context, k key, serial bool) (row, bool, error) {
	q := t.s.Query(t.q.get, k.domain, k.id).Idempotent(true)
	if serial {
		q = q.Consistency(t.serial)
	}
	var r row
	var seq int64
	err := q.ScanContext(ctx, &r.id, &seq, &r.bytes, &r.chunks, &r.digest, &r.created, &r.complete, &r.deleting, &r.reserved, &r.updated)
	if errors.Is(err, gocql.ErrNotFound) {
		return row{}, false, nil
	}
	if err != nil {
		return row{}, false, err
	}
	r.seq = uint64(seq)
	return r, true, nil
}

func (t *cqlTables) list(ctx context.Context, domain string) ([]row, error) {
	iter := t.s.Query(t.q.list, domain).Idempotent(true).IterContext(ctx)
	var rows []row
	for {
		var r row
		var seq int64
		if !iter.Scan(&r.id, &seq, &r.bytes, &r.chunks, &r.digest, &r.created, &r.complete, &r.deleting, &r.reserved, &r.updated) {
			break
		}
		r.seq = uint64(seq)
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

func (t *cqlTables) putChunk(ctx context.Context, k key, n int, data []byte) error {
	return t.s.Query(t.q.putChunk, k.domain, k.id, n, data).Idempotent(true).ExecContext(ctx)
}

func (t *cqlTables) getChunk(ctx context.Context, k key, n int) ([]byte, bool, error) {
	var data []byte
	err := t.s.Query(t.q.getChunk, k.domain, k.id, n).Idempotent(true).ScanContext(ctx, &data)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (t *cqlTables) deleteChunk(ctx context.Context, k key, n int) error {
	return t.s.Query(t.q.deleteChunk, k.domain, k.id, n).Idempotent(true).ExecContext(ctx)
}

// tablesExist reports an error unless keyspace has the manifest and chunks
// tables.
func tablesExist(ctx context.Context, s *gocql.Session, keyspace string) error {
	iter := s.Query("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", keyspace).
		Consistency(gocql.One).Idempotent(true).IterContext(ctx)
	have := map[string]bool{}
	var name string
	for iter.Scan(&name) {
		have[name] = true
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	for _, t := range []string{"manifest", "chunks"} {
		if !have[t] {
			return fmt.Errorf("table %s.%s does not exist: set CreateKeyspace, or run the statements of Config.SchemaCQL", keyspace, t)
		}
	}
	return nil
}
