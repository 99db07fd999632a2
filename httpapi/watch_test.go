package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sopd/sop"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// watchEvent is the data of a change event.
type watchEvent struct {
	Seq       uint64
	Store     string
	Key       json.RawMessage
	KeyBase64 string `json:"key_base64"`
	Op        string
	Value     json.RawMessage
	OldValue  json.RawMessage `json:"old_value"`
	Existed   *bool
}

// sse reads a change stream.
type sse struct {
	t          *testing.T
	res        *http.Response
	rd         *bufio.Reader
	cancel     context.CancelFunc
	keepAlives int
}

// watch opens a change stream of domain default; it fails the test unless
// the answer is 200 text/event-stream. The stream is closed at cleanup.
func (e *env) watch(query string, headers ...string) *sse {
	e.t.Helper()
	return e.openStream("GET", "?"+query, nil, headers...)
}

// openStream opens a change stream of domain default (method, the URL's
// rest after .../watch, body and headers); it fails the test unless the
// answer is 200 text/event-stream. The stream is closed at cleanup.
func (e *env) openStream(method, rest string, body io.Reader, headers ...string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, method, e.ts.URL+"/v1/domains/default/watch"+rest, body)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		e.t.Fatalf("%s watch%s: %d %s", method, rest, res.StatusCode, b)
	}
	s := &sse{t: e.t, res: res, rd: bufio.NewReader(res.Body), cancel: cancel}
	e.t.Cleanup(s.close)
	return s
}

func (s *sse) close() {
	s.cancel()
	s.res.Body.Close()
}

// next reads the next event, counting keep-alive comments on the way.
func (s *sse) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && (ev.data != "" || ev.event != ""):
			return ev, nil
		case line == "":
		case line == ": keep-alive":
			s.keepAlives++
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		default:
			return ev, fmt.Errorf("unexpected line %q", line)
		}
	}
}

// change reads the next event and requires a change whose id is its seq.
func (s *sse) change() watchEvent {
	s.t.Helper()
	event, w := s.typedChange()
	if event != "" {
		s.t.Fatalf("event of type %q", event)
	}
	return w
}

// typedChange reads the next event and requires a change (of any event
// type but error) whose id is its seq; it returns the type too.
func (s *sse) typedChange() (string, watchEvent) {
	s.t.Helper()
	ev, err := s.next()
	if err != nil {
		s.t.Fatalf("read event: %v", err)
	}
	if ev.event == "error" {
		s.t.Fatalf("error event: %s", ev.data)
	}
	var w watchEvent
	if err := json.Unmarshal([]byte(ev.data), &w); err != nil {
		s.t.Fatalf("event data %q: %v", ev.data, err)
	}
	if ev.id != strconv.FormatUint(w.Seq, 10) {
		s.t.Fatalf("event id %q for seq %d", ev.id, w.Seq)
	}
	return ev.event, w
}

// TestWatchFormat: the exact text of events of each kind.
func TestWatchFormat(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	e.put("s", "a/b", `{"x": [1, 2]}`)
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn",
		`{"success":[{"op":"put","store":"s","key":"c","value":"<v>"},{"op":"delete","store":"s","key":"a/b"}]}`)
	e.must(http.StatusOK, "DELETE", "/v1/domains/default/stores/s", nil)
	st := e.watch("from=1")
	want := []sseEvent{
		{"1", "", `{"seq":1,"store":"s","op":"create_store"}`},
		{"2", "", `{"seq":2,"store":"s","key":"a/b","op":"put","value":{"x":[1,2]}}`},
		{"3", "", `{"seq":3,"store":"s","key":"c","op":"put","value":"<v>"}`},
		{"3", "", `{"seq":3,"store":"s","key":"a/b","op":"delete"}`},
		{"4", "", `{"seq":4,"store":"s","op":"drop_store"}`},
	}
	for i, w := range want {
		got, err := st.next()
		if err != nil || got != w {
			t.Fatalf("event %d: %+v %v, want %+v", i, got, err, w)
		}
	}
}

// TestWatchResume: a stream replays from ?from=, goes on live, and a
// reconnect with Last-Event-ID continues with no gap and no duplicate.
func TestWatchResume(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	for i := range 20 {
		e.put("s", fmt.Sprintf("k%02d", i), strconv.Itoa(i))
	}
	st := e.watch("from=1&store=s")
	if ev := st.change(); ev.Seq != 1 || ev.Op != "create_store" {
		t.Fatalf("first event %+v", ev)
	}
	var last uint64 = 1
	for range 10 {
		ev := st.change()
		if ev.Seq != last+1 || ev.Op != "put" {
			t.Fatalf("event %+v after seq %d", ev, last)
		}
		last = ev.Seq
	}
	st.close()
	for i := 20; i < 30; i++ {
		e.put("s", fmt.Sprintf("k%02d", i), strconv.Itoa(i))
	}
	// Last-Event-ID wins over from.
	st = e.watch("from=1&store=s", "Last-Event-ID", strconv.FormatUint(last, 10))
	for last < 31 {
		ev := st.change()
		if ev.Seq != last+1 {
			t.Fatalf("resumed with seq %d after %d", ev.Seq, last)
		}
		if want := fmt.Sprintf(`"k%02d"`, ev.Seq-2); string(ev.Key) != want {
			t.Fatalf("seq %d has key %s, want %s", ev.Seq, ev.Key, want)
		}
		last = ev.Seq
	}
	// Live: a new commit arrives on the open stream.
	seq := e.put("s", "live", `true`)
	if ev := st.change(); ev.Seq != seq || string(ev.Key) != `"live"` || string(ev.Value) != "true" {
		t.Fatalf("live event %+v, want seq %d", ev, seq)
	}
}

// TestWatchFilters: store, prefix (a string, or an array on an index
// store) and old_values.
func TestWatchFilters(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	indexPeople(e)
	e.put("s", "apple", `1`)
	e.put("s", "banana", `2`)
	e.put("s", "apricot", `3`)
	e.put("people", `["Smith",42]`, `{"last":"Smith","age":42}`)
	e.put("people", `["Jones",1]`, `{"last":"Jones","age":1}`)
	e.put("s", "apple", `4`)
	e.must(http.StatusOK, "DELETE", itemPath("s", "apple"), nil)

	st := e.watch("from=1&store=s&prefix=ap&old_values=true")
	type want struct {
		key, op, value, old string
		existed             bool
	}
	for _, w := range []want{
		{`"apple"`, "put", "1", "", false},
		{`"apricot"`, "put", "3", "", false},
		{`"apple"`, "put", "4", "1", true},
		{`"apple"`, "delete", "", "4", true},
	} {
		ev := st.change()
		if string(ev.Key) != w.key || ev.Op != w.op || string(ev.Value) != w.value || string(ev.OldValue) != w.old || ev.Existed == nil || *ev.Existed != w.existed {
			t.Fatalf("event %+v, want %+v", ev, w)
		}
	}
	st = e.watch("from=1&store=people&prefix=" + url.QueryEscape(`["Smith"]`))
	if ev := st.change(); string(ev.Key) != `["Smith",42]` || ev.Store != "people" || ev.Existed != nil {
		t.Fatalf("index prefix event %+v", ev)
	}
	seq := e.put("people", `["Smith",7]`, `{"last":"Smith","age":7}`)
	if ev := st.change(); ev.Seq != seq || string(ev.Key) != `["Smith",7]` {
		t.Fatalf("live index event %+v, want seq %d", ev, seq)
	}
}

// TestWatchKeepAlive: an idle stream gets keep-alive comments.
func TestWatchKeepAlive(t *testing.T) {
	e := newEnv(t, Options{})
	e.srv.keepAlive = 20 * time.Millisecond
	e.store("s", nil)
	st := e.watch("")
	seq := e.put("s", "k", `1`)
	ev := st.change()
	if ev.Seq != seq {
		t.Fatalf("event %+v, want seq %d", ev, seq)
	}
	put := make(chan resp, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // some keep-alive intervals
		r, err := e.try("PUT", itemPath("s", "k2"), `2`)
		if err != nil {
			r.body = []byte(err.Error())
		}
		put <- r
	}()
	if ev := st.change(); string(ev.Key) != `"k2"` {
		t.Fatalf("event %+v", ev)
	}
	if r := <-put; r.status != http.StatusOK {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if st.keepAlives == 0 {
		t.Fatal("no keep-alive while the stream idled")
	}
}

// TestWatchCompacted: a position the node no longer holds is 410 with
// first_seq and snapshot null, before any stream starts.
func TestWatchCompacted(t *testing.T) {
	e := newEnvDB(t, sop.Options{WatchHistory: 5}, Options{})
	e.store("s", nil)
	for i := range 20 {
		e.put("s", strconv.Itoa(i), `1`)
	}
	r := e.fails(http.StatusGone, "compacted", "GET", "/v1/domains/default/watch?from=2&old_values=true", nil)
	var body struct {
		FirstSeq *uint64         `json:"first_seq"`
		Snapshot json.RawMessage `json:"snapshot"`
	}
	r.decode(t, &body)
	if body.FirstSeq == nil || *body.FirstSeq <= 2 || string(body.Snapshot) != "null" {
		t.Fatalf("compacted answer %s", r.body)
	}
	// Without old values the journal still has it.
	if ev := e.watch("from=2").change(); ev.Seq != 2 {
		t.Fatalf("first event %+v, want seq 2", ev)
	}
	// From first_seq with old values is fine.
	if ev := e.watch(fmt.Sprintf("from=%d&old_values=true", *body.FirstSeq)).change(); ev.Seq != *body.FirstSeq {
		t.Fatalf("first event %+v, want seq %d", ev, *body.FirstSeq)
	}
}

// TestWatchClosedDB: a stream ends with an error event when the DB
// closes.
func TestWatchClosedDB(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	st := e.watch("")
	e.put("s", "k", `1`)
	st.change()
	e.db.Close()
	ev, err := st.next()
	if err != nil || ev.event != "error" || !strings.Contains(ev.data, `"error":"unavailable"`) || !strings.Contains(ev.data, `"resume_from":3`) {
		t.Fatalf("after close: %+v %v", ev, err)
	}
	if _, err := st.next(); err != io.EOF {
		t.Fatalf("the stream goes on after its error event: %v", err)
	}
}

// TestWatchConcurrent: 100 watchers see every commit of 4 concurrent
// writers, in seq order, with no gap.
func TestWatchConcurrent(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	const watchers, writers, perWriter = 100, 4, 25
	streams := make([]*sse, watchers)
	for i := range streams {
		streams[i] = e.watch("store=s")
	}
	var mu sync.Mutex
	written := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				var ans writeAnswer
				r, err := e.try("PUT", itemPath("s", fmt.Sprintf("w%d-%d", w, i)), `1`)
				if err == nil {
					err = json.Unmarshal(r.body, &ans)
				}
				if err != nil || r.status != http.StatusOK {
					t.Errorf("put: %d %s %v", r.status, r.body, err)
					return
				}
				mu.Lock()
				written[ans.Seq] = true
				mu.Unlock()
			}
		})
	}
	errs := make(chan error, watchers)
	for _, st := range streams {
		go func() {
			var prev uint64
			for n := 0; n < writers*perWriter; n++ {
				ev, err := st.next()
				if err != nil {
					errs <- fmt.Errorf("after seq %d: %v", prev, err)
					return
				}
				var w watchEvent
				json.Unmarshal([]byte(ev.data), &w)
				if prev != 0 && w.Seq != prev+1 {
					errs <- fmt.Errorf("seq %d after %d", w.Seq, prev)
					return
				}
				prev = w.Seq
			}
			errs <- nil
		}()
	}
	wg.Wait()
	for range watchers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(written) != writers*perWriter {
		t.Fatalf("%d distinct seqs written, want %d", len(written), writers*perWriter)
	}
}

// smallSendBuffers gives the server's connections a tiny send buffer, so
// a client that stops reading blocks the server's writes at once, however
// the system sizes its socket buffers.
func smallSendBuffers(srv *http.Server) {
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && state == http.StateNew {
			tc.SetWriteBuffer(4096)
		}
	}
}

// stalledWatch opens a change stream of domain default from seq 1 over a
// connection with a tiny receive buffer and never reads it.
// fallBehind writes 200 puts of 16 KiB into store s while the stream on
// conn (watches open watches of it) reads nothing, so that they fall
// behind the node's history, then returns the stream to read (the events
// it had, then the errors) and the last put's seq.
func fallBehind(t *testing.T, e *env, conn net.Conn, watches int) (*sse, uint64) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // fail, do not hang
	within(t, 5*time.Second, "the watches open", func() bool { return metricValue(t, e, "sop_watchers") == float64(watches) })
	value := `"` + strings.Repeat("v", 16<<10) + `"`
	var last uint64
	for i := range 200 {
		last = e.put("s", strconv.Itoa(i), value)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sse{t: t, res: res, rd: bufio.NewReaderSize(res.Body, 1<<20), cancel: func() {}}, last
}

func stalledWatch(t *testing.T, e *env) net.Conn {
	t.Helper()
	return stalledStream(t, e, "GET /v1/domains/default/watch?from=1 HTTP/1.1\r\nHost: test\r\n\r\n")
}

// stalledStream sends request over a connection with a tiny receive
// buffer and never reads the answer.
func stalledStream(t *testing.T, e *env, request string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	io.WriteString(conn, request)
	return conn
}

// metricValue scrapes /metrics for one unlabelled sample.
func metricValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	r := e.must(http.StatusOK, "GET", "/metrics", nil)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in /metrics", name)
	return 0
}

// TestWatchStalled: a watcher that never reads does not slow commits,
// and is cut off once a write blocks for the write timeout.
func TestWatchStalled(t *testing.T) {
	e := newEnvDB(t, sop.Options{}, Options{}, smallSendBuffers)
	e.srv.writeTimeout = 300 * time.Millisecond
	e.store("s", nil)
	stalledWatch(t, e)
	within(t, 5*time.Second, "the stalled watcher opens", func() bool { return metricValue(t, e, "sop_watchers") == 1 })
	// 16 MiB of changes: far more than the socket buffers hold.
	value := `"` + strings.Repeat("v", 64<<10) + `"`
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 32 {
				if r, err := e.try("PUT", itemPath("s", fmt.Sprintf("%d-%d", w, i)), value); err != nil || r.status != http.StatusOK {
					t.Errorf("put: %d %s %v", r.status, r.body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("256 commits took %s beside a stalled watcher", took)
	}
	within(t, 10*time.Second, "the stalled watcher is cut off", func() bool { return metricValue(t, e, "sop_watchers") == 0 })
}

// TestWatchBehind: a watcher that falls behind the node's history gets an
// error event naming where to resume, and resuming there loses nothing.
func TestWatchBehind(t *testing.T) {
	e := newEnvDB(t, sop.Options{WatchHistory: 20}, Options{}, smallSendBuffers)
	e.store("s", nil)
	st, last := fallBehind(t, e, stalledWatch(t, e), 1)
	var prev uint64
	var resume uint64
	for resume == 0 {
		ev, err := st.next()
		if err != nil {
			t.Fatalf("after seq %d: %v", prev, err)
		}
		if ev.event == "error" {
			var se streamError
			if err := json.Unmarshal([]byte(ev.data), &se); err != nil || se.Error != "behind" || se.Message == "" {
				t.Fatalf("error event %q", ev.data)
			}
			resume = se.ResumeFrom
			break
		}
		seq, _ := strconv.ParseUint(ev.id, 10, 64)
		if seq != prev+1 {
			t.Fatalf("seq %d after %d", seq, prev)
		}
		prev = seq
	}
	if resume != prev+1 || resume > last {
		t.Fatalf("resume_from %d after seq %d (last %d)", resume, prev, last)
	}
	st2 := e.watch("from=" + strconv.FormatUint(resume, 10))
	for seq := resume; seq <= last; seq++ {
		if ev := st2.change(); ev.Seq != seq {
			t.Fatalf("resumed stream: seq %d, want %d", ev.Seq, seq)
		}
	}
}
