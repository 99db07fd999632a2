package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/snapshottest"
)

// startJetStream starts an embedded server in a temporary directory and
// returns a JetStream context on it; both stop in t.Cleanup.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js, _ := startServer(t)
	return js
}

// startServer is startJetStream that also returns the server, for a test
// that stops it early.
func startServer(t *testing.T) (jetstream.JetStream, *journal.Server) {
	t.Helper()
	srv, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Sync: journal.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, srv
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(context.Background(), startJetStream(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s *Store, domain string, seq uint64, data []byte) snapshot.Meta {
	t.Helper()
	m, err := s.Put(context.Background(), snapshot.Meta{ID: snapshot.NewID(seq, rand.Uint32()), Domain: domain, Seq: seq}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll(t *testing.T, s *Store, domain, id string) ([]byte, snapshot.Meta) {
	t.Helper()
	rc, m, err := s.Open(context.Background(), domain, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, m
}

// streamMsgs returns how many messages the bucket's stream holds.
func streamMsgs(t *testing.T, s *Store) uint64 {
	t.Helper()
	si, err := s.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return si.State.Msgs
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, size := range []int{0, 1, 128 << 10, 300<<10 + 7} {
		data := payload(size, uint64(size))
		m := put(t, s, "orders", uint64(size)+1, data)
		if m.Bytes != int64(size) || m.Created.IsZero() || m.Domain != "orders" {
			t.Fatalf("size %d: Put returned %+v", size, m)
		}
		got, om := readAll(t, s, "orders", m.ID)
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, want the %d put", size, len(got), size)
		}
		if om != m {
			t.Fatalf("size %d: Open meta %+v, Put returned %+v", size, om, m)
		}
		list, err := s.List(ctx, "orders")
		if err != nil || len(list) != 1 || list[0] != m {
			t.Fatalf("size %d: List = %+v, %v; want [%+v]", size, list, err, m)
		}
		if err := s.Delete(ctx, "orders", m.ID); err != nil {
			t.Fatal(err)
		}
		if n := streamMsgs(t, s); n != 0 {
			t.Fatalf("size %d: %d messages left after Delete, want none (no delete markers)", size, n)
		}
		if _, _, err := s.Open(ctx, "orders", m.ID); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "orders", m.ID); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Delete twice: %v, want ErrNotFound", err)
		}
	}
}

func TestPutExists(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := payload(1000, 1)
	m := put(t, s, "d", 5, data)
	_, err := s.Put(context.Background(), snapshot.Meta{ID: m.ID, Domain: "d", Seq: 5}, strings.NewReader("other"))
	if !errors.Is(err, snapshot.ErrExists) || !strings.Contains(err.Error(), "d/"+m.ID) || !strings.Contains(err.Error(), DefaultBucket) {
		t.Fatalf("second Put: %v, want ErrExists naming the object and bucket", err)
	}
	if got, _ := readAll(t, s, "d", m.ID); !bytes.Equal(got, data) {
		t.Fatal("the refused Put changed the stored snapshot")
	}
}

// failReader returns data, then err instead of EOF.
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

// assertGone checks that a failed Put left nothing: no object, no chunks.
func assertGone(t *testing.T, s *Store, domain, id string) {
	t.Helper()
	if _, _, err := s.Open(context.Background(), domain, id); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("Open after failed Put: %v, want ErrNotFound", err)
	}
	if list, err := s.List(context.Background(), domain); err != nil || len(list) != 0 {
		t.Fatalf("List after failed Put = %v, %v; want nothing", list, err)
	}
	if n := streamMsgs(t, s); n != 0 {
		t.Fatalf("failed Put left %d messages in the bucket", n)
	}
}

func TestPutReaderFails(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	boom := errors.New("boom")
	id := snapshot.NewID(9, 1)
	r := &failReader{r: bytes.NewReader(payload(500<<10, 2)), err: boom}
	_, err := s.Put(context.Background(), snapshot.Meta{ID: id, Domain: "d", Seq: 9}, r)
	if !errors.Is(err, boom) {
		t.Fatalf("Put: %v, want the reader's error", err)
	}
	assertGone(t, s, "d", id)
	// The ID is free again.
	data := payload(10, 3)
	if _, err := s.Put(context.Background(), snapshot.Meta{ID: id, Domain: "d", Seq: 9}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, s, "d", id); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes after re-Put")
	}
}

// cancelReader cancels its context after after reads, or when it reaches
// the end of r if after is 0, and keeps reading.
type cancelReader struct {
	r      io.Reader
	after  int
	reads  int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	c.reads++
	n, err := c.r.Read(p)
	if c.reads == c.after || err == io.EOF {
		c.cancel()
	}
	return n, err
}

func TestPutContextEnds(t *testing.T) {
	t.Parallel()
	for _, after := range []int{3, 0} { // mid-upload; as the upload ends
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			id := snapshot.NewID(1, 2)
			r := &cancelReader{r: bytes.NewReader(payload(600<<10, 4)), after: after, cancel: cancel}
			_, err := s.Put(ctx, snapshot.Meta{ID: id, Domain: "d", Seq: 1}, r)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put: %v, want context.Canceled", err)
			}
			assertGone(t, s, "d", id)
		})
	}
}

func TestPutEndedContext(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(1, 1), Domain: "d", Seq: 1}, strings.NewReader("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	assertGone(t, s, "d", snapshot.NewID(1, 1))
}

func TestListOrderAndDomains(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var want []snapshot.Meta
	for _, seq := range []uint64{7, 3, 7, 12, 1} {
		want = append(want, put(t, s, "d", seq, payload(10, seq)))
	}
	put(t, s, "d1", 100, nil) // "d1/..." must not pass for "d/..."
	put(t, s, "e", 50, nil)
	got, err := s.List(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("List(d) has %d snapshots, want %d", len(got), len(want))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Seq < b.Seq || a.Seq == b.Seq && a.ID < b.ID {
			t.Fatalf("List not newest first at %d: %+v before %+v", i, a, b)
		}
	}
	byID := map[string]snapshot.Meta{}
	for _, m := range want {
		byID[m.ID] = m
	}
	for _, m := range got {
		if byID[m.ID] != m {
			t.Fatalf("List gave %+v, Put returned %+v", m, byID[m.ID])
		}
	}
	if l, err := s.List(ctx, "none"); err != nil || len(l) != 0 {
		t.Fatalf("List(none) = %v, %v", l, err)
	}
}

func TestBadIDs(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	good := snapshot.NewID(1, 1)
	for _, c := range []struct{ domain, id string }{{"d", "1"}, {"d/x", good}, {"", good}, {"d", good + "/x"}} {
		if _, err := s.Put(ctx, snapshot.Meta{Domain: c.domain, ID: c.id}, strings.NewReader("x")); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Put(%q, %q): %v, want ErrBadID", c.domain, c.id, err)
		}
		if _, _, err := s.Open(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Open(%q, %q): %v, want ErrBadID", c.domain, c.id, err)
		}
		if err := s.Delete(ctx, c.domain, c.id); !errors.Is(err, snapshot.ErrBadID) {
			t.Errorf("Delete(%q, %q): %v, want ErrBadID", c.domain, c.id, err)
		}
	}
	if _, err := s.List(ctx, "a.b"); !errors.Is(err, snapshot.ErrBadID) {
		t.Errorf("List(a.b): %v, want ErrBadID", err)
	}
}

// publishInfo replaces an object's info message, as a damaged or foreign
// writer would.
func publishInfo(t *testing.T, s *Store, js jetstream.JetStream, info *jetstream.ObjectInfo) {
	t.Helper()
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(s.metaSubject(info.Name))
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = b
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestCorruption(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx := context.Background()
	s, err := New(ctx, js, Options{Bucket: "snaps"})
	if err != nil {
		t.Fatal(err)
	}
	m := put(t, s, "d", 4, payload(200<<10, 5))
	info, err := s.obs.GetInfo(ctx, "d/"+m.ID)
	if err != nil {
		t.Fatal(err)
	}

	bad := *info
	bad.Digest = jetstream.GetObjectDigestValue(sha256Of([]byte("other")))
	publishInfo(t, s, js, &bad)
	rc, _, err := s.Open(ctx, "d", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("read with a wrong digest: %v, want ErrCorrupt", err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}

	bad = *info
	bad.Metadata = map[string]string{metaDomain: "d", metaID: m.ID, metaSeq: "x"}
	publishInfo(t, s, js, &bad)
	if _, _, err := s.Open(ctx, "d", m.ID); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Open with bad metadata: %v, want ErrCorrupt", err)
	}
	if _, err := s.List(ctx, "d"); !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), "snaps") {
		t.Fatalf("List with bad metadata: %v, want ErrCorrupt naming the bucket", err)
	}
	// Objects that are not snapshots are not listed.
	if _, err := s.obs.PutString(ctx, "d/readme", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d", m.ID); err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(ctx, "d"); err != nil || len(l) != 0 {
		t.Fatalf("List = %v, %v; want nothing", l, err)
	}
}

// TestSlowReader checks that a download is not bound by the JetStream API
// timeout, which bounds the object store's own Get.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	wjs := startJetStream(t)
	w, err := New(context.Background(), wjs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(1<<20, 6)
	m := put(t, w, "d", 1, data)
	js, err := jetstream.New(wjs.Conn(), jetstream.WithDefaultTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Open(context.Background(), "d", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a consumer slower than the API timeout, not a wait for a condition
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read after a pause: %v", err)
	}
	if !bytes.Equal(append(head, rest...), data) {
		t.Fatal("wrong bytes")
	}
}

func TestOpenContextEnds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	m := put(t, s, "d", 1, payload(1<<20, 7))
	ctx, cancel := context.WithCancel(context.Background())
	rc, _, err := s.Open(ctx, "d", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx := context.Background()
	s, err := New(ctx, js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := payload(300<<10, 8)
	m := put(t, s, "d", 1, data)
	// Chunks of a crashed upload: no info names them.
	for i := range 3 {
		if _, err := js.Publish(ctx, s.chunkSubject("CRASHED"), payload(100, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	before := streamMsgs(t, s)

	if _, err := s.Cleanup(ctx, time.Second); err == nil {
		t.Fatal("Cleanup accepted an age below MinCleanupAge")
	}
	n, err := s.Cleanup(ctx, time.Hour)
	if err != nil || n != 0 {
		t.Fatalf("Cleanup of young chunks = %d, %v; want 0, nil", n, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	n, err = s.Cleanup(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want 1, nil", n, err)
	}
	if got := streamMsgs(t, s); got != before-3 {
		t.Fatalf("%d messages after Cleanup, want %d", got, before-3)
	}
	if got, _ := readAll(t, s, "d", m.ID); !bytes.Equal(got, data) {
		t.Fatal("Cleanup damaged a stored snapshot")
	}
	if n, err := s.Cleanup(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("second Cleanup = %d, %v; want 0, nil", n, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx := context.Background()
	a, err := New(ctx, js, Options{Bucket: "b1", Storage: MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	m := put(t, a, "d", 1, []byte("abc"))
	b, err := New(ctx, js, Options{Bucket: "b1"}) // binds, keeps the config
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, b, "d", m.ID); string(got) != "abc" {
		t.Fatalf("second store reads %q", got)
	}
	st, err := b.obs.Status(ctx)
	if err != nil || st.Storage() != jetstream.MemoryStorage {
		t.Fatalf("bucket storage %v, %v; want memory, kept", st.Storage(), err)
	}
	for _, o := range []Options{{Bucket: "a.b"}, {Replicas: -1}, {Replicas: 6}, {Storage: 7}} {
		if _, err := New(ctx, js, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	if _, err := New(ctx, nil, Options{}); err == nil {
		t.Error("New without JetStream succeeded")
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			data := payload(50<<10+i, uint64(i))
			m, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(uint64(i), uint32(i)), Domain: "d", Seq: uint64(i)}, bytes.NewReader(data))
			if err != nil {
				errs <- err
				return
			}
			rc, _, err := s.Open(ctx, "d", m.ID)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("snapshot %s: wrong bytes", m.ID)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l, err := s.List(ctx, "d"); err != nil || len(l) != 16 {
		t.Fatalf("List: %d snapshots, %v; want 16", len(l), err)
	}
}

func sha256Of(b []byte) hash.Hash {
	h := sha256.New()
	h.Write(b)
	return h
}

func TestConformance(t *testing.T) {
	t.Parallel()
	snapshottest.Run(t, func(t *testing.T) snapshot.Store { return newStore(t) })
}

// TestUnavailable: with the NATS server gone, Put, Open and List fail
// with snapshot.ErrUnavailable (retry later), not as refusals.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	js, srv := startServer(t)
	s, err := New(context.Background(), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := put(t, s, "d", 1, payload(1000, 1))
	srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Put(ctx, snapshot.Meta{ID: snapshot.NewID(2, 1), Domain: "d", Seq: 2}, strings.NewReader("x")); !errors.Is(err, snapshot.ErrUnavailable) {
		t.Errorf("Put with the server gone: %v, want ErrUnavailable", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, _, err := s.Open(ctx, "d", meta.ID); !errors.Is(err, snapshot.ErrUnavailable) {
		t.Errorf("Open with the server gone: %v, want ErrUnavailable", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.List(ctx, "d"); !errors.Is(err, snapshot.ErrUnavailable) {
		t.Errorf("List with the server gone: %v, want ErrUnavailable", err)
	}
	if _, err := s.Put(context.Background(), snapshot.Meta{ID: "bad id", Domain: "d"}, strings.NewReader("x")); errors.Is(err, snapshot.ErrUnavailable) {
		t.Errorf("a bad id is a refusal, not ErrUnavailable: %v", err)
	}
}
