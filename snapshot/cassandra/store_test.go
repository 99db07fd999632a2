package cassandra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/snapshottest"
)

// testChunk is the chunk size of the in-memory tests: small, so that
// snapshots of a few KiB span many chunks and reservations.
const testChunk = 100

// newMemStore returns a Store over memTables.
func newMemStore(t *testing.T) (*Store, *memTables) {
	t.Helper()
	cfg, err := Config{Hosts: []string{"unused"}, ChunkSize: testChunk}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	m := newMemTables()
	return newStore(cfg, m), m
}

func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func putMeta(seq uint64) snapshot.Meta {
	return snapshot.Meta{ID: snapshot.NewID(seq, rand.Uint32()), Domain: "d", Seq: seq}
}

func readAll(t *testing.T, s *Store, domain, id string) ([]byte, snapshot.Meta, error) {
	t.Helper()
	rc, m, err := s.Open(context.Background(), domain, id)
	if err != nil {
		return nil, m, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, m, err
}

// assertEmpty checks that the tables hold nothing.
func assertEmpty(t *testing.T, m *memTables) {
	t.Helper()
	if rows, chunks := m.counts(); rows != 0 || chunks != 0 {
		t.Fatalf("%d manifest rows and %d chunks left, want none", rows, chunks)
	}
}

func TestMemRoundTrip(t *testing.T) {
	s, m := newMemStore(t)
	ctx := context.Background()
	for _, size := range []int{0, 1, testChunk, testChunk*reserveAhead + 1, 3*testChunk*reserveAhead + 17} {
		data := payload(size, uint64(size))
		meta, err := s.Put(ctx, putMeta(uint64(size)), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if meta.Bytes != int64(size) || meta.Created.IsZero() {
			t.Fatalf("Put returned %+v", meta)
		}
		got, om, err := readAll(t, s, "d", meta.ID)
		if err != nil || !bytes.Equal(got, data) || om != meta {
			t.Fatalf("size %d: read %d bytes, %v, meta %+v; want %d bytes, %+v", size, len(got), err, om, size, meta)
		}
		if l, err := s.List(ctx, "d"); err != nil || len(l) != 1 || l[0] != meta {
			t.Fatalf("List = %v, %v", l, err)
		}
		if err := s.Delete(ctx, "d", meta.ID); err != nil {
			t.Fatal(err)
		}
		assertEmpty(t, m)
		if err := s.Delete(ctx, "d", meta.ID); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Delete twice: %v", err)
		}
		if _, _, err := s.Open(ctx, "d", meta.ID); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Open after Delete: %v", err)
		}
	}
}

func TestMemPutExists(t *testing.T) {
	s, _ := newMemStore(t)
	meta, err := s.Put(context.Background(), putMeta(3), strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), meta, strings.NewReader("other"))
	if !errors.Is(err, snapshot.ErrExists) || !strings.Contains(err.Error(), "keyspace sop") || !strings.Contains(err.Error(), meta.ID) {
		t.Fatalf("second Put: %v, want ErrExists naming the snapshot and keyspace", err)
	}
	if got, _, err := readAll(t, s, "d", meta.ID); err != nil || string(got) != "abc" {
		t.Fatalf("read %q, %v", got, err)
	}
}

type failReader struct {
	r   io.Reader
	err error
}

func (f *failReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestMemPutReaderFails(t *testing.T) {
	s, m := newMemStore(t)
	boom := errors.New("boom")
	meta := putMeta(1)
	_, err := s.Put(context.Background(), meta, &failReader{bytes.NewReader(payload(testChunk*100, 1)), boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Put: %v, want the reader's error", err)
	}
	assertEmpty(t, m)
	if _, err := s.Put(context.Background(), meta, strings.NewReader("again")); err != nil {
		t.Fatalf("re-Put after a failed Put: %v", err)
	}
}

func TestMemPutContextEnds(t *testing.T) {
	s, m := newMemStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.setFault(func(op string, n int) (bool, error) {
		if op == "putChunk" && n == 70 {
			cancel()
		}
		return false, nil
	})
	_, err := s.Put(ctx, putMeta(1), bytes.NewReader(payload(testChunk*200, 2)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	assertEmpty(t, m)
}

func TestMemPutFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		op      string
		n       int
		applied bool // the operation applies before it fails
		stored  bool // the Put succeeds
	}{
		{"begin", 0, false, false},
		{"begin", 0, true, false},
		{"reserve", reserveAhead, false, false},
		{"reserve", 2 * reserveAhead, true, false},
		{"putChunk", 3, false, false},
		{"putChunk", 100, true, false},
		{"finish", 0, false, false},
		{"finish", 0, true, true}, // the answer was lost: abort finds it complete
	} {
		t.Run(fmt.Sprintf("%s-%d-%v", c.op, c.n, c.applied), func(t *testing.T) {
			s, m := newMemStore(t)
			var once sync.Once
			m.setFault(func(op string, n int) (bool, error) {
				var err error
				if op == c.op && n == c.n {
					once.Do(func() { err = boom })
				}
				return c.applied, err
			})
			data := payload(testChunk*150, 3)
			meta, err := s.Put(context.Background(), putMeta(1), bytes.NewReader(data))
			m.setFault(nil)
			if c.stored {
				if err != nil {
					t.Fatalf("Put: %v, want success", err)
				}
				if got, _, err := readAll(t, s, "d", meta.ID); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read: %v", err)
				}
				return
			}
			if !errors.Is(err, boom) {
				t.Fatalf("Put: %v, want boom", err)
			}
			assertEmpty(t, m)
		})
	}
}

func TestMemListOrder(t *testing.T) {
	s, _ := newMemStore(t)
	ctx := context.Background()
	for _, seq := range []uint64{5, 1, 5, 9, 2} {
		if _, err := s.Put(ctx, putMeta(seq), strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(100, 1), Domain: "e", Seq: 100}, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, "d")
	if err != nil || len(l) != 5 {
		t.Fatalf("List = %d, %v; want 5", len(l), err)
	}
	for i := 1; i < len(l); i++ {
		if l[i-1].Seq < l[i].Seq || l[i-1].Seq == l[i].Seq && l[i-1].ID < l[i].ID {
			t.Fatalf("not newest first: %v", l)
		}
	}
}

func TestMemPendingInvisible(t *testing.T) {
	s, m := newMemStore(t)
	ctx := context.Background()
	meta := putMeta(1)
	var during []snapshot.Meta
	var openErr error
	m.setFault(func(op string, n int) (bool, error) {
		if op == "putChunk" && n == 5 { // mid-Put
			during, _ = s.List(ctx, "d")
			_, _, openErr = s.Open(ctx, "d", meta.ID)
		}
		return false, nil
	})
	if _, err := s.Put(ctx, meta, bytes.NewReader(payload(testChunk*10, 4))); err != nil {
		t.Fatal(err)
	}
	if len(during) != 0 || !errors.Is(openErr, snapshot.ErrNotFound) {
		t.Fatalf("a Put in progress was visible: List %v, Open %v", during, openErr)
	}
}

func TestMemReadDamage(t *testing.T) {
	s, m := newMemStore(t)
	ctx := context.Background()
	meta, err := s.Put(ctx, putMeta(1), bytes.NewReader(payload(testChunk*5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	k := key{"d", meta.ID}

	m.mu.Lock()
	m.chunks[chunkKey{k, 2}][0] ^= 1
	m.mu.Unlock()
	if _, _, err := readAll(t, s, "d", meta.ID); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("flipped bit: %v, want ErrCorrupt", err)
	}

	m.mu.Lock()
	delete(m.chunks, chunkKey{k, 3})
	m.mu.Unlock()
	if _, _, err := readAll(t, s, "d", meta.ID); !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), "chunk 3 of 5 is missing") {
		t.Fatalf("missing chunk: %v, want ErrCorrupt", err)
	}

	// Deleted while being read.
	rc, _, err := s.Open(ctx, "d", meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d", meta.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("read after Delete: %v, want ErrNotFound", err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

func TestMemOpenContext(t *testing.T) {
	s, _ := newMemStore(t)
	meta, err := s.Put(context.Background(), putMeta(1), bytes.NewReader(payload(testChunk*5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc, _, err := s.Open(ctx, "d", meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
}

func TestMemCleanup(t *testing.T) {
	s, m := newMemStore(t)
	ctx := context.Background()
	now := time.Now()
	s.now = func() time.Time { return now }

	keep, err := s.Put(ctx, putMeta(1), bytes.NewReader(payload(testChunk*3, 7)))
	if err != nil {
		t.Fatal(err)
	}
	// A Put whose process dies after 100 chunks, with its clean-up.
	crash := errors.New("crash")
	m.setFault(func(op string, n int) (bool, error) {
		if op == "putChunk" && n == 100 || op == "markDeleting" {
			return false, crash
		}
		return false, nil
	})
	dead := putMeta(2)
	if _, err := s.Put(ctx, dead, bytes.NewReader(payload(testChunk*200, 8))); !errors.Is(err, crash) {
		t.Fatalf("Put: %v", err)
	}
	// A Delete whose process dies before removing chunks.
	gone, err := s.Put(ctx, putMeta(3), bytes.NewReader(payload(testChunk*4, 9)))
	m.setFault(func(op string, n int) (bool, error) {
		if op == "deleteChunk" {
			return false, crash
		}
		return false, nil
	})
	if err == nil {
		err = s.Delete(ctx, "d", gone.ID)
	}
	if err != nil {
		t.Fatalf("Delete (its chunk removal fails, which it leaves to Cleanup): %v", err)
	}
	m.setFault(nil)
	if l, err := s.List(ctx, "d"); err != nil || len(l) != 1 || l[0] != keep {
		t.Fatalf("List = %v, %v; want only %s", l, err, keep.ID)
	}

	// The deleting row goes at once; the pending one only when abandoned.
	if n, err := s.Cleanup(ctx, "d"); err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want 1", n, err)
	}
	if rows, _ := m.counts(); rows != 2 {
		t.Fatalf("%d rows after the first Cleanup, want 2 (kept, pending)", rows)
	}
	now = now.Add(s.cfg.AbandonAfter)
	if n, err := s.Cleanup(ctx, "d"); err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want 1", n, err)
	}
	if rows, chunks := m.counts(); rows != 1 || chunks != 3 {
		t.Fatalf("%d rows, %d chunks after Cleanup; want the kept snapshot's 1 and 3", rows, chunks)
	}
	if got, _, err := readAll(t, s, "d", keep.ID); err != nil || len(got) != testChunk*3 {
		t.Fatalf("kept snapshot: %d bytes, %v", len(got), err)
	}
	if n, err := s.Cleanup(ctx, "d"); err != nil || n != 0 {
		t.Fatalf("third Cleanup = %d, %v", n, err)
	}
	if _, err := s.Cleanup(ctx, "a/b"); !errors.Is(err, snapshot.ErrBadID) {
		t.Fatalf("Cleanup(a/b): %v", err)
	}
}

// TestMemAbandonedPut checks that a stalled Put loses to Cleanup and
// fails, and that what it wrote is removed.
func TestMemAbandonedPut(t *testing.T) {
	s, m := newMemStore(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m.setFault(func(op string, n int) (bool, error) {
		if op == "putChunk" && n == 10 {
			// The Put stalls; meanwhile time passes and Cleanup runs.
			mu.Lock()
			now = now.Add(2 * s.cfg.AbandonAfter)
			mu.Unlock()
			if c, err := s.Cleanup(ctx, "d"); err != nil || c != 1 {
				t.Errorf("Cleanup = %d, %v; want 1", c, err)
			}
		}
		return false, nil
	})
	_, err := s.Put(ctx, putMeta(1), bytes.NewReader(payload(testChunk*(reserveAhead+20), 10)))
	if !errors.Is(err, errAbandoned) {
		t.Fatalf("Put: %v, want errAbandoned", err)
	}
	m.setFault(nil)
	assertEmpty(t, m)
}

func TestMemBadIDs(t *testing.T) {
	s, _ := newMemStore(t)
	ctx := context.Background()
	good := snapshot.NewID(1, 1)
	for _, c := range []struct{ domain, id string }{{"d", "1"}, {"d/x", good}, {"", good}} {
		if _, err := s.Put(ctx, snapshot.Meta{Domain: c.domain, ID: c.id}, strings.NewReader("x")); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Put(%q, %q): %v", c.domain, c.id, err)
		}
		if _, _, err := s.Open(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Open(%q, %q): %v", c.domain, c.id, err)
		}
		if err := s.Delete(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Delete(%q, %q): %v", c.domain, c.id, err)
		}
	}
	if _, err := s.List(ctx, "a b"); !errors.Is(err, snapshot.ErrBadID) {
		t.Errorf("List: %v", err)
	}
}

func TestMemConcurrent(t *testing.T) {
	s, _ := newMemStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			data := payload(testChunk*5+i, uint64(i))
			meta, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(uint64(i), 0), Domain: "d", Seq: uint64(i)}, bytes.NewReader(data))
			if err == nil {
				var got []byte
				got, _, err = readAll(t, s, "d", meta.ID)
				if err == nil && !bytes.Equal(got, data) {
					err = fmt.Errorf("%s: wrong bytes", meta.ID)
				}
			}
			if err == nil && i%2 == 0 {
				err = s.Delete(ctx, "d", meta.ID)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	// Two writers of one ID: exactly one wins.
	var wins sync.WaitGroup
	results := make(chan error, 2)
	for range 2 {
		wins.Go(func() {
			_, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(99, 9), Domain: "d", Seq: 99}, bytes.NewReader(payload(testChunk*3, 99)))
			results <- err
		})
	}
	wg.Wait()
	wins.Wait()
	close(errs)
	close(results)
	for err := range errs {
		t.Error(err)
	}
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, snapshot.ErrExists):
			t.Errorf("racing Put: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d racing Puts of one ID succeeded, want 1", ok)
	}
	if l, err := s.List(ctx, "d"); err != nil || len(l) != 17 {
		t.Fatalf("List: %d, %v; want 17", len(l), err)
	}
}

// TestMemConformance runs the conformance suite against the Store over
// memTables, with chunks small enough that its larger snapshots take more
// than one reservation.
func TestMemConformance(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T) snapshot.Store {
		cfg, err := Config{Hosts: []string{"unused"}, ChunkSize: 64 << 10}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		return newStore(cfg, newMemTables())
	})
}

// requestErr is an error answer from Cassandra with its protocol code, as
// gocql's RequestErr* types are.
type requestErr int

func (e requestErr) Code() int       { return int(e) }
func (e requestErr) Message() string { return fmt.Sprintf("code %#x", int(e)) }
func (e requestErr) Error() string   { return e.Message() }

// TestMemUnavailable: Put, Open and List fail with snapshot.ErrUnavailable
// (retry later) when Cassandra could not be reached or did not answer in
// time, and without it when it refused the request.
func TestMemUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{gocql.ErrTimeoutNoResponse, true},
		{fmt.Errorf("pool: %w", gocql.ErrNoConnections), true},
		{gocql.ErrConnectionClosed, true},
		{requestErr(gocql.ErrCodeUnavailable), true},
		{requestErr(gocql.ErrCodeOverloaded), true},
		{requestErr(gocql.ErrCodeWriteTimeout), true},
		{requestErr(gocql.ErrCodeReadTimeout), true},
		{requestErr(gocql.ErrCodeCASWriteUnknown), true},
		{requestErr(gocql.ErrCodeSyntax), false},
		{requestErr(gocql.ErrCodeUnauthorized), false},
		{errors.New("something else"), false},
	} {
		s, m := newMemStore(t)
		stored, err := s.Put(context.Background(), putMeta(1), bytes.NewReader(payload(500, 1)))
		if err != nil {
			t.Fatal(err)
		}
		m.fault = func(op string, n int) (bool, error) { return false, tc.err }
		_, putErr := s.Put(context.Background(), putMeta(2), bytes.NewReader(payload(500, 2)))
		_, _, openErr := s.Open(context.Background(), "d", stored.ID)
		_, listErr := s.List(context.Background(), "d")
		for op, err := range map[string]error{"Put": putErr, "Open": openErr, "List": listErr} {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s failing with %v: %v, want that error in the chain", op, tc.err, err)
			}
			if got := errors.Is(err, snapshot.ErrUnavailable); got != tc.want {
				t.Errorf("%s failing with %v: ErrUnavailable %v, want %v (%v)", op, tc.err, got, tc.want, err)
			}
		}
	}
}
