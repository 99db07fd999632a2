package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

// next reads one event within a deadline.
func next(t *testing.T, w *client.Watcher) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func show(ev client.Event) string {
	return fmt.Sprintf("%d %s %s %s %s", ev.Seq, ev.Op, ev.Store, ev.Key, ev.Value)
}

func TestWatch(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	before, err := n.c.Put(ctx, "default", "s", client.StringKey("before"), json.RawMessage(`0`))
	if err != nil {
		t.Fatal(err)
	}
	w, err := n.c.Watch(ctx, "default", client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if r := w.Resume(); r != before+1 {
		t.Errorf("Resume before any event = %d, want %d (one past the journal's last seq)", r, before+1)
	}
	seq, err := n.c.Put(ctx, "default", "s", client.StringKey("a/b"), json.RawMessage(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.Delete(ctx, "default", "s", client.StringKey("a/b")); err != nil {
		t.Fatal(err)
	}
	if got, want := show(next(t, w)), fmt.Sprintf(`%d put s a/b {"v":1}`, seq); got != want {
		t.Errorf("first event %q, want %q", got, want)
	}
	if got, want := show(next(t, w)), fmt.Sprintf(`%d delete s a/b `, seq+1); got != want {
		t.Errorf("second event %q, want %q", got, want)
	}
	// The last seq's events may not all be in; Resume does not skip it.
	if r := w.Resume(); r != seq+1 {
		t.Errorf("Resume = %d, want %d", r, seq+1)
	}

	// From 1, filtered, with old values.
	w2, err := n.c.Watch(ctx, "default", client.WatchOptions{From: 1, Store: "s", Prefix: client.StringKey("a/"), OldValues: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if ev := next(t, w2); ev.Seq != seq || ev.Op != "put" || ev.Existed || len(ev.OldValue) != 0 {
		t.Errorf("put with old values: %+v", ev)
	}
	if ev := next(t, w2); ev.Op != "delete" || !ev.Existed || string(ev.OldValue) != `{"v":1}` {
		t.Errorf("delete with old values: %+v", ev)
	}

	// A bounded wait leaves the watcher usable.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := w.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing to read = %v, want DeadlineExceeded", err)
	}
	seq3, err := n.c.Put(ctx, "default", "s", client.StringKey("c"), json.RawMessage(`3`))
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Seq != seq3 {
		t.Errorf("event after a timed-out Next: %+v, want seq %d", ev, seq3)
	}
	w.Close()
	if _, err := w.Next(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	w.Close() // twice is fine

	if _, err := n.c.Watch(ctx, "nope", client.WatchOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Watch of a missing domain = %v, want ErrNotFound", err)
	}
}

func TestWatchEndsWithItsContext(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	w, err := n.c.Watch(ctx, "default", client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cancel()
	if _, err := w.Next(ctxT(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after the watch's ctx ended = %v, want context.Canceled", err)
	}
}

// dropTransport cuts every change stream after a number of messages, as
// a flaky network would, and records the Last-Event-ID of each stream
// request.
type dropTransport struct {
	after int // messages per connection

	mu      sync.Mutex
	lastIDs []string
}

func (d *dropTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	watch := strings.HasSuffix(r.URL.Path, "/watch")
	if watch {
		d.mu.Lock()
		d.lastIDs = append(d.lastIDs, r.Header.Get("Last-Event-ID"))
		d.mu.Unlock()
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && watch && resp.StatusCode == http.StatusOK {
		resp.Body = &dropBody{ReadCloser: resp.Body, left: d.after}
	}
	return resp, err
}

// dropBody ends with an error after left messages (blank-line ends).
type dropBody struct {
	io.ReadCloser
	left int
	nl   bool // the last byte passed was '\n'
}

func (b *dropBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection dropped by the test")
	}
	n, err := b.ReadCloser.Read(p)
	for i := range n {
		if p[i] == '\n' && b.nl {
			if b.left--; b.left == 0 {
				return i + 1, nil
			}
		}
		b.nl = p[i] == '\n'
	}
	return n, err
}

// TestWatchResumesAfterDrops cuts the stream every few messages, often
// in the middle of a transaction's events, while writers commit
// multi-op transactions, and checks the watcher delivers exactly what a
// watcher on a clean connection does.
func TestWatchResumesAfterDrops(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	tr := &dropTransport{after: 7}
	flaky, err := client.New(n.srv.URL, client.Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := n.c.Watch(ctx, "default", client.WatchOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	w, err := flaky.Watch(ctx, "default", client.WatchOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	const writers, txns, ops = 3, 15, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range txns {
				var req client.TxnRequest
				for j := range ops {
					k := client.StringKey(fmt.Sprintf("w%d/t%02d/op%d", g, i, j))
					req.Success = append(req.Success, client.OpPut("s", k, json.RawMessage(fmt.Sprint(i*ops+j))))
				}
				if _, err := n.c.Txn(ctx, "default", req); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const total = 1 + writers*txns*ops // the store's creation, then every put
	perSeq := map[uint64]int{}
	for i := range total {
		want, got := next(t, ref), next(t, w)
		if show(got) != show(want) {
			t.Fatalf("event %d: got %q, want %q", i, show(got), show(want))
		}
		perSeq[got.Seq]++
	}
	for seq, k := range perSeq {
		if k != ops && k != 1 {
			t.Errorf("seq %d has %d events", seq, k)
		}
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if ev, err := w.Next(short); err == nil {
		t.Fatalf("an event beyond the last: %q", show(ev))
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	resumed := 0
	for _, id := range tr.lastIDs[1:] {
		if id != "" {
			resumed++
		}
	}
	if len(tr.lastIDs) < total/tr.after || resumed != len(tr.lastIDs)-1 {
		t.Errorf("%d connections, %d resumed with Last-Event-ID; want about %d, all but the first", len(tr.lastIDs), resumed, total/(tr.after-ops))
	}
}

// script is a fake node's change stream: the answers to the watch's
// successive connections.
type script struct {
	t     *testing.T
	mu    sync.Mutex
	conns []func(w http.ResponseWriter, r *http.Request)
	seen  []string // from and Last-Event-ID of each connection
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/status" {
		fmt.Fprint(w, `{"node":"n","domains":[{"name":"d","role":"leader","applied_seq":4,"journal_first_seq":1,"journal_last_seq":4}]}`)
		return
	}
	s.mu.Lock()
	i := len(s.seen)
	s.seen = append(s.seen, r.URL.Query().Get("from")+"/"+r.Header.Get("Last-Event-ID"))
	s.mu.Unlock()
	if i >= len(s.conns) {
		<-r.Context().Done()
		return
	}
	s.conns[i](w, r)
}

func stream(events ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			fmt.Fprint(w, e)
		}
	}
}

// ev is one SSE message of a put of key at seq.
func ev(seq int, key string) string {
	return fmt.Sprintf("id: %d\ndata: {\"seq\":%d,\"store\":\"s\",\"op\":\"put\",\"key\":%q,\"value\":1}\n\n", seq, seq, key)
}

// TestWatchScripted checks the resume positions exactly: after a drop in
// the middle of a seq, after the server cuts a slow reader off, after a
// refused reconnect, and that a compacted position ends the watch.
func TestWatchScripted(t *testing.T) {
	s := &script{t: t}
	s.conns = []func(http.ResponseWriter, *http.Request){
		stream(ev(5, "a"), ev(5, "b")), // dropped in the middle of seq 5
		stream(ev(5, "a"), ev(5, "b"), ev(5, "c"), ev(6, "a"),
			"event: error\ndata: {\"error\":\"behind\",\"message\":\"too slow\",\"resume_from\":6}\n\n"),
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"unavailable","message":"no leader"}`)
		},
		stream(": keep-alive\n\n", ev(6, "a"), ev(6, "b"), "data: {\"seq\":7,\"store\":\"s\",\n", "data: \"op\":\"put\",\"key\":\"a\"}\n\n", "event: ping\ndata: x\n\n"),
		func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGone)
			fmt.Fprint(w, `{"error":"compacted","message":"purged","first_seq":9}`)
		},
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctxT(t), "d", client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []string
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		e, err := w.Next(ctx)
		cancel()
		if err != nil {
			var ce *client.Error
			if !errors.Is(err, client.ErrCompacted) || !errors.As(err, &ce) || ce.FirstSeq != 9 {
				t.Fatalf("the watch ended with %v, want compacted at first seq 9", err)
			}
			break
		}
		got = append(got, fmt.Sprintf("%d%s", e.Seq, e.Key))
	}
	if g, want := strings.Join(got, " "), "5a 5b 5c 6a 6b 7a"; g != want {
		t.Errorf("events %q, want %q", g, want)
	}
	// from / Last-Event-ID of each connection: the status said the last
	// seq was 4; then resume at 5 skipping 2, at 6 skipping 1 (twice),
	// and at 7 skipping 1.
	if g, want := strings.Join(s.seen, " "), "5/ 5/4 6/5 6/5 7/6"; g != want {
		t.Errorf("connections asked for %q, want %q", g, want)
	}
	if r := w.Resume(); r != 7 {
		t.Errorf("Resume = %d, want 7", r)
	}
	if _, err := w.Next(t.Context()); !errors.Is(err, client.ErrCompacted) {
		t.Errorf("Next after the end = %v, want the same error", err)
	}
}

func TestWatchRefusedAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
		fmt.Fprint(w, `{"error":"compacted","message":"purged","first_seq":40}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Watch(ctxT(t), "d", client.WatchOptions{From: 3})
	var ce *client.Error
	if !errors.As(err, &ce) || !errors.Is(err, client.ErrCompacted) || ce.FirstSeq != 40 {
		t.Fatalf("Watch from a purged seq = %v, want compacted with first seq 40", err)
	}
}

// TestWatchReconnectsSilentConnection: a connection that goes silent
// (a dead peer behind a half-open TCP connection) is dropped after
// IdleTimeout and resumed.
func TestWatchReconnectsSilentConnection(t *testing.T) {
	s := &script{t: t}
	s.conns = []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			stream(ev(5, "a"))(w, r)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // silent, never closed by the server
		},
		stream(ev(5, "a"), ev(6, "b")),
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctxT(t), "d", client.WatchOptions{From: 5, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	if a, b := next(t, w), next(t, w); a.Seq != 5 || b.Seq != 6 || b.Key.String() != "b" {
		t.Fatalf("events %q, %q; want 5 a, 6 b", show(a), show(b))
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("reconnected after %s, before the idle timeout", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The second stream ends after event 6, so the watcher may already
	// have asked for a third connection (from 6): look at the first two.
	if len(s.seen) < 2 {
		t.Fatalf("connections asked for %q, want two or more", s.seen)
	}
	if g, want := strings.Join(s.seen[:2], " "), "5/ 5/4"; g != want {
		t.Errorf("connections asked for %q, want %q first", g, want)
	}
}
