package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/journal/journaltest"
)

// testMaxPayload keeps the TooLarge test cheap and says what the suite's
// MaxMsgSize is.
const testMaxPayload = 1 << 20

func startServer(t *testing.T, dir string) *journal.Server {
	t.Helper()
	s, err := journal.StartServer(journal.ServerOptions{Dir: dir, Sync: journal.SyncAlways, MaxPayload: testMaxPayload})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func connect(t *testing.T, s *journal.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := s.Connect(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

func openStream(t *testing.T, nc *nats.Conn, opts journal.StreamOptions) *journal.Stream {
	t.Helper()
	j, err := journal.OpenStream(context.Background(), nc, "test", opts)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// newStream returns a Stream on a fresh embedded server, stopped by t.Cleanup.
func newStream(t *testing.T) *journal.Stream {
	s := startServer(t, t.TempDir())
	nc := connect(t, s)
	t.Cleanup(func() { nc.Close(); s.Shutdown() })
	return openStream(t, nc, journal.StreamOptions{})
}

func TestStreamConformance(t *testing.T) {
	t.Parallel()
	journaltest.Run(t, journaltest.Config{
		Open:       func(t *testing.T) journal.Journal { return newStream(t) },
		MaxMsgSize: testMaxPayload,
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStreamRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir)
	nc := connect(t, s)
	j := openStream(t, nc, journal.StreamOptions{})
	group := []journal.Msg{{ID: "tx1", Data: []byte("one")}, {ID: "tx2", Data: []byte("two")}}
	if _, err := j.Append(testCtx(t), 0, group); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()

	s = startServer(t, dir)
	nc = connect(t, s)
	t.Cleanup(func() { nc.Close(); s.Shutdown() })
	j = openStream(t, nc, journal.StreamOptions{})
	if f, l, err := j.Bounds(testCtx(t)); err != nil || f != 1 || l != 2 {
		t.Fatalf("bounds after restart: (%d, %d), %v", f, l, err)
	}
	recs, err := j.Read(testCtx(t), 1, 10)
	if err != nil || len(recs) != 2 || recs[1].ID != "tx2" || string(recs[1].Data) != "two" {
		t.Fatalf("read after restart: %+v, %v", recs, err)
	}
	// A retry of the committed group, as after an unknown outcome.
	_, err = j.Append(testCtx(t), 0, group)
	var de *journal.DuplicateError
	if !errors.As(err, &de) || de.ID != "tx1" || de.Seq != 1 {
		t.Fatalf("retried group after restart: %v", err)
	}
}

func TestStreamUnavailable(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	quiet := nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
	nc := connect(t, s, nats.MaxReconnects(-1), quiet)
	t.Cleanup(nc.Close)
	j := openStream(t, nc, journal.StreamOptions{Timeout: 300 * time.Millisecond})
	if _, err := j.Append(testCtx(t), 0, []journal.Msg{{ID: "a", Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	start := time.Now()
	_, err := j.Append(testCtx(t), 1, []journal.Msg{{ID: "b", Data: []byte("b")}, {ID: "c", Data: []byte("c")}})
	if !errors.Is(err, journal.ErrUnavailable) {
		t.Fatalf("append with the server down: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("append with the server down took %v", d)
	}
	if _, _, err := j.Bounds(testCtx(t)); !errors.Is(err, journal.ErrUnavailable) {
		t.Fatalf("bounds with the server down: %v", err)
	}
}

func TestStreamPartial(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	nc := connect(t, s)
	t.Cleanup(func() { nc.Close(); s.Shutdown() })
	j := openStream(t, nc, journal.StreamOptions{BatchSize: 2})
	if _, err := j.Append(testCtx(t), 0, []journal.Msg{{ID: "a", Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	group := []journal.Msg{{ID: "x1", Data: []byte("1")}, {ID: "x2", Data: []byte("2")}, {ID: "a", Data: []byte("3")}, {ID: "x4", Data: []byte("4")}}
	_, err := j.Append(testCtx(t), 1, group)
	var pe *journal.PartialError
	var de *journal.DuplicateError
	if !errors.As(err, &pe) || pe.First != 2 || pe.Stored != 2 || !errors.As(err, &de) || de.ID != "a" || de.Seq != 1 {
		t.Fatalf("split append failing in its second part: %v", err)
	}
	if _, l, err := j.Bounds(testCtx(t)); err != nil || l != 3 {
		t.Fatalf("bounds after a partial append: last %d, %v", l, err)
	}
}

// TestServerListen covers the TCP listener and SyncInterval.
func TestServerListen(t *testing.T) {
	t.Parallel()
	s, err := journal.StartServer(journal.ServerOptions{Dir: t.TempDir(), Listen: "127.0.0.1:0", Sync: journal.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); s.Shutdown() })
	j := openStream(t, nc, journal.StreamOptions{})
	if first, err := j.Append(testCtx(t), 0, []journal.Msg{{ID: "a", Data: []byte("a")}}); err != nil || first != 1 {
		t.Fatalf("append over TCP: %d, %v", first, err)
	}
}

// TestStreamMaxSize checks that the size check leaves room for the headers:
// a message just under the limit is stored, one byte more is refused.
func TestStreamMaxSize(t *testing.T) {
	t.Parallel()
	j := newStream(t)
	id := "big"
	fits := testMaxPayload - 256 - len("Nats-Msg-Id") - len(id)
	if _, err := j.Append(testCtx(t), 0, []journal.Msg{{ID: id, Data: make([]byte, fits)}}); err != nil {
		t.Fatalf("message of %d bytes: %v", fits, err)
	}
	if _, err := j.Append(testCtx(t), 1, []journal.Msg{{ID: "big2", Data: make([]byte, fits+2)}}); !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("message of %d bytes: %v", fits+2, err)
	}
}
