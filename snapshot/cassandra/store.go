// Package cassandra keeps snapshots in Apache Cassandra, for teams that run
// it: each snapshot is a row of the manifest table plus its bytes cut into
// chunk blobs (1 MiB by default) in the chunks table, both in one keyspace
// (default "sop") replicated by NetworkTopologyStrategy. Every request runs
// at LOCAL_QUORUM by default; see Config and, for the tables, SchemaCQL.
//
// # Protocol
//
// Put inserts the snapshot's manifest row as pending (a lightweight
// transaction, INSERT IF NOT EXISTS: an ID already there, complete or not,
// is snapshot.ErrExists, and two writers of one ID cannot both pass),
// writes the chunks in order, and finally marks the row complete, again
// by a lightweight transaction. List and Open see complete rows only, so
// a reader never meets a partial snapshot. Before it writes chunk n, Put
// makes sure that the row's reserved exceeds n, raising it 64 chunks at a
// time; so the chunks of a Put that died are all below its row's reserved.
//
// Delete marks the row deleting (it disappears from List and Open at
// once), removes the chunks below reserved, then the row. A Put that fails
// does the same to its pending row (best effort, on a context of its own
// since the caller's may have ended).
//
// What a crash leaves, Cleanup removes: rows marked deleting, and pending
// rows that have not changed for Config.AbandonAfter. Run it now and then
// on any node, after pruning snapshots for instance.
//
// Manifest rows change only by lightweight transactions (Paxos, at
// Config.SerialConsistency), never by plain writes, so their order does
// not depend on the clocks of clients and nodes. Chunk writes and deletes
// are plain, idempotent writes and may be retried; a chunk delete from a
// client whose clock runs ahead could shadow a later rewrite of the same
// chunk, which needs the same domain and ID (and so the same random
// number) to be put again after a failure: the digest check on reading
// would catch it.
package cassandra

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/sopd/sop/snapshot"
)

const (
	// reserveAhead is how many chunk numbers one reservation covers.
	reserveAhead = 64
	// deleters is how many chunk deletes run at once.
	deleters = 8
	// abortTimeout bounds the removal of what a failed Put wrote.
	abortTimeout = 2 * time.Minute
)

// errAbandoned: a Put's pending row was taken from it, by Cleanup after
// AbandonAfter without progress.
var errAbandoned = errors.New("put abandoned: its manifest row is no longer pending (Cleanup took it after AbandonAfter without progress)")

// Store is a snapshot.Store in a Cassandra keyspace. It is safe for
// concurrent use.
type Store struct {
	cfg     Config // defaults applied
	t       tables
	session *gocql.Session // nil in tests without a server
	now     func() time.Time
}

var _ snapshot.Store = (*Store)(nil)

// Open connects to the cluster, creates the keyspace and tables when
// cfg.CreateKeyspace is set (else checks that the tables exist), and
// returns the Store. Close it when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("cassandra snapshot store: %w", err)
	}
	session, err := connect(ctx, cfg.clusterConfig())
	if err != nil {
		return nil, fmt.Errorf("cassandra snapshot store: connect to %v: %w", cfg.Hosts, err)
	}
	if err := prepareSchema(ctx, session, cfg); err != nil {
		session.Close()
		return nil, fmt.Errorf("cassandra snapshot store: keyspace %s: %w", cfg.Keyspace, err)
	}
	serial, _ := parseSerial(cfg.SerialConsistency)
	s := newStore(cfg, newCQLTables(session, cfg.Keyspace, serial))
	s.session = session
	return s, nil
}

func newStore(cfg Config, t tables) *Store {
	return &Store{cfg: cfg, t: t, now: time.Now}
}

// connect creates a session, giving up when ctx ends (the driver's own
// connect is bounded by ConnectTimeout but takes no context).
func connect(ctx context.Context, cc *gocql.ClusterConfig) (*gocql.Session, error) {
	type result struct {
		s   *gocql.Session
		err error
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := make(chan result, 1)
	go func() {
		s, err := cc.CreateSession()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func prepareSchema(ctx context.Context, s *gocql.Session, cfg Config) error {
	if !cfg.CreateKeyspace {
		return tablesExist(ctx, s, cfg.Keyspace)
	}
	stmts, err := cfg.SchemaCQL()
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		// The driver waits for schema agreement after each change.
		if err := s.Query(stmt).ExecContext(ctx); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return nil
}

// Keyspace returns the keyspace the store uses.
func (s *Store) Keyspace() string { return s.cfg.Keyspace }

// Close closes the session.
func (s *Store) Close() {
	if s.session != nil {
		s.session.Close()
	}
}

// errorf wraps err with the operation, the snapshot and the keyspace.
func (s *Store) errorf(op string, k key, err error) error {
	return fmt.Errorf("%s snapshot %s in keyspace %s: %w", op, k, s.cfg.Keyspace, unavailable(err))
}

// unavailable marks err as snapshot.ErrUnavailable when it says that
// Cassandra could not be reached or did not answer in time (no host up,
// a connection lost or timed out, too few replicas alive, a coordinator
// overloaded or bootstrapping, a replica timeout, a lightweight
// transaction whose outcome is unknown), so callers can tell a store to
// retry later from one that refused the request.
func unavailable(err error) error {
	for _, t := range []error{gocql.ErrNoConnections, gocql.ErrTimeoutNoResponse, gocql.ErrConnectionClosed,
		gocql.ErrNoStreams, gocql.ErrUnavailable, context.DeadlineExceeded} {
		if errors.Is(err, t) {
			return fmt.Errorf("%w: %w", snapshot.ErrUnavailable, err)
		}
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping,
			gocql.ErrCodeWriteTimeout, gocql.ErrCodeReadTimeout, gocql.ErrCodeCASWriteUnknown:
			return fmt.Errorf("%w: %w", snapshot.ErrUnavailable, err)
		}
	}
	return err
}

// stamp returns the current time as Cassandra stores a timestamp: UTC,
// whole milliseconds.
func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Put stores the snapshot read from r as meta.Domain/meta.ID; see the
// package doc for the protocol. When ctx ends, Put stops before its next
// read or write and removes what it wrote.
func (s *Store) Put(ctx context.Context, meta snapshot.Meta, r io.Reader) (snapshot.Meta, error) {
	k := key{meta.Domain, meta.ID}
	if err := snapshot.CheckID(meta.Domain, meta.ID); err != nil {
		return snapshot.Meta{}, fmt.Errorf("put snapshot in keyspace %s: %w", s.cfg.Keyspace, err)
	}
	if err := ctx.Err(); err != nil {
		return snapshot.Meta{}, s.errorf("put", k, err)
	}
	applied, err := s.t.begin(ctx, k, meta.Seq, s.stamp())
	if err == nil && !applied {
		err = snapshot.ErrExists
	}
	if err != nil {
		// A failed lightweight transaction may still have applied:
		// remove the row in case it is this Put's. Not after ErrExists.
		if !errors.Is(err, snapshot.ErrExists) {
			s.abort(ctx, k, 0)
		}
		return snapshot.Meta{}, s.errorf("put", k, err)
	}
	fin, reserved, err := s.write(ctx, k, meta.Seq, r)
	if err != nil {
		if stored, ok := s.abort(ctx, k, reserved); ok {
			fin, err = stored, nil // the final transaction applied after all
		}
	}
	if err != nil {
		return snapshot.Meta{}, s.errorf("put", k, err)
	}
	meta.Bytes, meta.Created = fin.bytes, fin.created.UTC()
	return meta, nil
}

// write writes the chunks of a pending row, then marks it complete. It
// returns the row as finished, and the row's reserved (which bounds the
// chunks written) for the clean-up of a failure.
func (s *Store) write(ctx context.Context, k key, seq uint64, r io.Reader) (row, int, error) {
	buf := make([]byte, s.cfg.ChunkSize)
	digest := sha256.New()
	fin := row{seq: seq}
	reserved := 0
	for {
		if err := ctx.Err(); err != nil {
			return row{}, reserved, err
		}
		size, err := readChunk(r, buf)
		if err != nil && err != io.EOF {
			return row{}, reserved, fmt.Errorf("read: %w", err)
		}
		if size > 0 {
			if fin.chunks >= reserved {
				applied, err := s.t.reserve(ctx, k, fin.chunks+reserveAhead, s.stamp())
				if err != nil || !applied {
					// An unknown outcome may have raised reserved: count it raised.
					return row{}, fin.chunks + reserveAhead, orAbandoned(err, applied, "reserve chunks")
				}
				reserved = fin.chunks + reserveAhead
			}
			if err := s.t.putChunk(ctx, k, fin.chunks, buf[:size]); err != nil {
				return row{}, reserved, fmt.Errorf("write chunk %d: %w", fin.chunks, err)
			}
			digest.Write(buf[:size])
			fin.chunks++
			fin.bytes += int64(size)
		}
		if err == io.EOF {
			break
		}
	}
	fin.digest = digest.Sum(nil)
	fin.created = s.stamp()
	fin.updated = fin.created
	fin.complete = true
	applied, err := s.t.finish(ctx, k, fin)
	if err != nil || !applied {
		return row{}, reserved, orAbandoned(err, applied, "mark complete")
	}
	return fin, reserved, nil
}

func orAbandoned(err error, applied bool, what string) error {
	if err == nil && !applied {
		err = errAbandoned
	}
	return fmt.Errorf("%s: %w", what, err)
}

// readChunk fills buf from r. It returns the bytes read and nil when buf is
// full, io.EOF when r ended (with what it had, possibly nothing), or r's
// error.
func readChunk(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// abort removes what a failed Put wrote: it marks the row deleting (if it
// is not complete), removes chunks below reserved, then the row. It returns
// the row and true if the row turned out complete: the Put's final
// transaction applied although its answer was lost, and the snapshot is
// stored. It runs on a context of its own, since ctx may have ended; what
// it leaves, Cleanup removes.
func (s *Store) abort(ctx context.Context, k key, reserved int) (row, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	applied, err := s.t.markDeleting(ctx, k, when{complete: false}, reserved, s.stamp())
	if err != nil {
		return row{}, false
	}
	if applied {
		_ = s.removeChunks(ctx, k, reserved)
		return row{}, false
	}
	r, found, err := s.t.get(ctx, k, true)
	switch {
	case err != nil:
	case found && r.complete:
		return r, true
	case !found:
		// Cleanup took the row while this Put stalled and removed the
		// chunks it had then; those written since are this Put's to
		// remove (no other Put has its ID).
		_ = s.deleteChunks(ctx, k, reserved)
	}
	return row{}, false
}

// removeChunks deletes chunks 0..reserved-1 of a deleting row, then the
// row.
func (s *Store) removeChunks(ctx context.Context, k key, reserved int) error {
	if err := s.deleteChunks(ctx, k, reserved); err != nil {
		return err
	}
	if _, err := s.t.drop(ctx, k); err != nil {
		return fmt.Errorf("delete manifest row: %w", err)
	}
	return nil
}

// deleteChunks deletes chunks 0..reserved-1, deleters at a time.
func (s *Store) deleteChunks(ctx context.Context, k key, reserved int) error {
	next := make(chan int)
	errs := make(chan error, deleters)
	var wg sync.WaitGroup
	for range min(deleters, reserved) {
		wg.Go(func() {
			for n := range next {
				if err := s.t.deleteChunk(ctx, k, n); err != nil {
					errs <- fmt.Errorf("delete chunk %d: %w", n, err)
					return
				}
			}
		})
	}
	var err error
send:
	for n := range reserved {
		select {
		case next <- n:
		case err = <-errs:
			break send
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs // nil when no worker failed
	}
	return err
}

// Open returns a reader that fetches the snapshot's chunks one at a time as
// it is read, and checks the size and SHA-256 digest at the end (a
// mismatch, or a chunk missing from a complete snapshot, is
// snapshot.ErrCorrupt). The reader is bound to ctx.
func (s *Store) Open(ctx context.Context, domain, id string) (io.ReadCloser, snapshot.Meta, error) {
	k := key{domain, id}
	if err := snapshot.CheckID(domain, id); err != nil {
		return nil, snapshot.Meta{}, fmt.Errorf("open snapshot in keyspace %s: %w", s.cfg.Keyspace, err)
	}
	r, found, err := s.t.get(ctx, k, false)
	if err == nil && (!found || !r.complete) {
		err = snapshot.ErrNotFound
	}
	if err != nil {
		return nil, snapshot.Meta{}, s.errorf("open", k, err)
	}
	return s.newReader(ctx, k, r), metaOf(domain, r), nil
}

func metaOf(domain string, r row) snapshot.Meta {
	return snapshot.Meta{ID: r.id, Domain: domain, Seq: r.seq, Bytes: r.bytes, Created: r.created.UTC()}
}

// List returns domain's snapshots, newest (highest seq, then ID) first.
func (s *Store) List(ctx context.Context, domain string) ([]snapshot.Meta, error) {
	fail := func(err error) ([]snapshot.Meta, error) {
		return nil, fmt.Errorf("list snapshots of %s in keyspace %s: %w", domain, s.cfg.Keyspace, unavailable(err))
	}
	if err := snapshot.CheckID(domain, snapshot.NewID(0, 0)); err != nil {
		return fail(err)
	}
	rows, err := s.t.list(ctx, domain)
	if err != nil {
		return fail(err)
	}
	var metas []snapshot.Meta
	for _, r := range rows {
		if r.complete {
			metas = append(metas, metaOf(domain, r))
		}
	}
	sort.Slice(metas, func(i, j int) bool {
		if metas[i].Seq != metas[j].Seq {
			return metas[i].Seq > metas[j].Seq
		}
		return metas[i].ID > metas[j].ID
	})
	return metas, nil
}

// Delete removes a snapshot: it marks the manifest row deleting, which
// hides the snapshot at once, then removes the chunks and the row. Once
// the snapshot is hidden Delete succeeds; chunks it could not remove stay
// listed under the deleting row, and Cleanup removes them.
func (s *Store) Delete(ctx context.Context, domain, id string) error {
	k := key{domain, id}
	if err := snapshot.CheckID(domain, id); err != nil {
		return fmt.Errorf("delete snapshot in keyspace %s: %w", s.cfg.Keyspace, err)
	}
	r, found, err := s.t.get(ctx, k, false)
	if err == nil && (!found || !r.complete) {
		err = snapshot.ErrNotFound
	}
	if err == nil {
		var applied bool
		applied, err = s.t.markDeleting(ctx, k, when{complete: true}, r.chunks, s.stamp())
		if err == nil && !applied {
			err = snapshot.ErrNotFound // deleted meanwhile
		}
	}
	if err != nil {
		return s.errorf("delete", k, err)
	}
	_ = s.removeChunks(ctx, k, r.chunks)
	return nil
}

// Cleanup removes what crashed Puts and Deletes left in domain: rows marked
// deleting, and pending rows that have not changed for
// Config.AbandonAfter, with their chunks. It returns how many rows it
// removed. A Put still running but stalled for that long loses its row and
// fails. Cleanup may run on any node at any time, also concurrently with
// itself.
func (s *Store) Cleanup(ctx context.Context, domain string) (int, error) {
	fail := func(err error) error {
		return fmt.Errorf("clean up snapshots of %s in keyspace %s: %w", domain, s.cfg.Keyspace, unavailable(err))
	}
	if err := snapshot.CheckID(domain, snapshot.NewID(0, 0)); err != nil {
		return 0, fail(err)
	}
	rows, err := s.t.list(ctx, domain)
	if err != nil {
		return 0, fail(err)
	}
	removed := 0
	for _, r := range rows {
		k := key{domain, r.id}
		if r.complete || !r.deleting && s.now().Sub(r.updated) < s.cfg.AbandonAfter {
			continue
		}
		if !r.deleting {
			// Take it only if it has not moved since it was read.
			applied, err := s.t.markDeleting(ctx, k, when{updated: r.updated}, r.reserved, s.stamp())
			if err != nil {
				return removed, fail(fmt.Errorf("abandon %s: %w", k, err))
			}
			if !applied {
				continue
			}
		}
		if err := s.removeChunks(ctx, k, r.reserved); err != nil {
			return removed, fail(fmt.Errorf("remove %s: %w", k, err))
		}
		removed++
	}
	return removed, nil
}

// Sweep implements snapshot.Sweeper with Cleanup.
func (s *Store) Sweep(ctx context.Context, domain string) (int, error) {
	return s.Cleanup(ctx, domain)
}

var _ snapshot.Sweeper = (*Store)(nil)
