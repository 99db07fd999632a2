package client

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WatchOptions choose where a watch starts and what it delivers.
type WatchOptions struct {
	// From is the first seq to deliver; 0 means changes committed after
	// the call. A seq the journal no longer holds is ErrCompacted.
	From uint64
	// Store, when set, delivers only that store's events.
	Store string
	// Prefix, when set, delivers only put and delete events whose key
	// starts with it (and no store events).
	Prefix Key
	// OldValues adds each put's and delete's previous value.
	OldValues bool
	// IdleTimeout is how long a connection may stay silent before the
	// watcher takes it for dead and reconnects (default 45 s; the server
	// sends a keep-alive every 15 s while there is nothing to deliver).
	IdleTimeout time.Duration
}

// defaultIdleTimeout is WatchOptions.IdleTimeout's default: three of the
// server's keep-alive periods.
const defaultIdleTimeout = 45 * time.Second

// Event is one change of a committed transaction. Events of one
// transaction share its Seq and come in the order of its writes.
type Event struct {
	Seq   uint64 `json:"seq"`
	Store string `json:"store"`
	// Op is "put", "delete", "create_store" or "drop_store" (whose Key
	// and Value are empty).
	Op    string          `json:"op"`
	Key   Key             `json:"key,omitzero"`
	Value json.RawMessage `json:"value,omitempty"` // put
	// With WatchOptions.OldValues: the value a put or delete replaced
	// (empty when there was none), and whether the item existed before.
	OldValue json.RawMessage `json:"old_value,omitempty"`
	Existed  bool            `json:"existed,omitempty"`
	// As in Item: keys and values the HTTP API cannot show as they are.
	KeyBase64      string `json:"key_base64,omitempty"`
	ValueBase64    string `json:"value_base64,omitempty"`
	OldValueBase64 string `json:"old_value_base64,omitempty"`
}

// Watcher delivers the events of one watch in seq order, with no gap and
// no duplicate: when the connection drops, or the server cuts the stream
// off because it was read too slowly, it reconnects (with jittered
// backoff, for as long as it takes) and resumes after the last event it
// delivered. It is not safe for concurrent use; Close it when done.
type Watcher struct {
	c      *Client
	domain string
	opts   WatchOptions
	ctx    context.Context // ends the watch
	cancel context.CancelCauseFunc
	msgs   chan watchMsg // closed when run returns
	err    error         // what ended the watcher, once Next has returned it

	mu        sync.Mutex
	start     uint64 // the first seq asked for; 0: unknown (see Watch)
	delivered uint64 // seq of the last event Next returned
	seen      uint64 // seq of the newest event run has read
}

type watchMsg struct {
	ev  Event
	err error
}

// position is where a watch resumes: at seq, skipping the first skip
// events of seq, which were delivered already.
type position struct {
	seq  uint64
	skip int
}

// Watch starts a change stream of domain. ctx bounds the whole watch (Next
// then returns its error); Close ends it too. Watch fails at once when the
// first connection is refused: ErrNotFound for an unknown domain,
// ErrCompacted (with FirstSeq) when opts.From is gone.
//
// With From 0 the watcher first asks /v1/status for the domain's last seq
// and starts after it, so that it knows its position should the connection
// drop before the first event. If status cannot be read (a token that may
// not read it), it starts at the server's "now" instead, and a drop before
// the first event may miss the events committed in between.
func (c *Client) Watch(ctx context.Context, domain string, opts WatchOptions) (*Watcher, error) {
	if opts.Prefix.err != nil {
		return nil, opts.Prefix.err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	w := &Watcher{c: c, domain: domain, opts: opts, ctx: wctx, cancel: cancel, msgs: make(chan watchMsg), start: opts.From}
	if w.start == 0 {
		w.start = c.nextSeq(ctx, domain)
	}
	body, err := w.connect(wctx, position{seq: w.start}, false)
	if err != nil {
		cancel(err)
		return nil, err
	}
	go w.run(body)
	return w, nil
}

// nextSeq is one past domain's journal last seq, or 0 when it is unknown.
func (c *Client) nextSeq(ctx context.Context, domain string) uint64 {
	st, err := c.Status(ctx)
	if err != nil {
		return 0
	}
	for _, d := range st.Domains {
		if d.Name == domain {
			return d.JournalLastSeq + 1
		}
	}
	return 0
}

// connect opens the event stream at p. A resume names its position twice,
// as from and as Last-Event-ID; a server honouring either resumes at p.seq.
func (w *Watcher) connect(ctx context.Context, p position, resume bool) (io.ReadCloser, error) {
	q := url.Values{}
	if p.seq > 0 {
		q.Set("from", strconv.FormatUint(p.seq, 10))
	}
	if w.opts.Store != "" {
		q.Set("store", w.opts.Store)
	}
	if w.opts.Prefix.text != "" {
		q.Set("prefix", w.opts.Prefix.text)
	}
	if w.opts.OldValues {
		q.Set("old_values", "true")
	}
	h := http.Header{"Accept": {"text/event-stream"}}
	if resume && p.seq > 1 {
		h.Set("Last-Event-ID", strconv.FormatUint(p.seq-1, 10))
	}
	resp, err := w.c.send(ctx, request{method: http.MethodGet, path: path("domains", w.domain, "watch"), query: q, header: h})
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("client: watch %s: the answer is %q, not an event stream", w.domain, mt)
	}
	return resp.Body, nil
}

// run reads the stream, and reconnects until the watch ends or fails.
func (w *Watcher) run(body io.ReadCloser) {
	defer close(w.msgs)
	p := position{seq: w.start}
	failures := 0 // connections in a row that delivered nothing
	for {
		if body != nil {
			n, err := w.read(body, &p)
			body.Close()
			if err != nil && !retryable(err) {
				w.fail(err)
				return
			}
			if n > 0 {
				failures = 0
			} else {
				failures++
			}
		}
		if sleep(w.ctx, backoff(failures)) != nil {
			return
		}
		var err error
		if body, err = w.connect(w.ctx, p, true); err != nil {
			if !retryable(err) {
				w.fail(err)
				return
			}
			failures++
		}
	}
}

// fail hands a watch-ending error to Next, unless the watch ended first.
func (w *Watcher) fail(err error) {
	if w.ctx.Err() != nil {
		return
	}
	select {
	case w.msgs <- watchMsg{err: err}:
	case <-w.ctx.Done():
	}
}

// retryable reports whether a read or connect error is a dropped or
// refused connection worth trying again, rather than the end of the watch.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == "behind" || e.transient()
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// backoff is the wait before reconnecting after failures connections in
// a row that delivered nothing: none after a connection that did, then
// jittered, from 50 ms up to 5 s.
func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := min(5*time.Second, 50*time.Millisecond<<min(failures-1, 10))
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read delivers the events of one connection, dropping those delivered
// before (by seq, and by count within p.seq), and moves p past each event
// it delivers. It returns how many it delivered, and nil at the end of the
// stream, a *Error for an error event, or the read's error.
func (w *Watcher) read(body io.ReadCloser, p *position) (int, error) {
	skip := p.skip
	n := 0
	// A connection silent for too long is closed, which ends the read
	// with an error, and run reconnects.
	idle := cmp.Or(w.opts.IdleTimeout, defaultIdleTimeout)
	watchdog := time.AfterFunc(idle, func() { body.Close() })
	defer watchdog.Stop()
	sc := sseReader{r: bufio.NewReaderSize(body, 64<<10), line: func() { watchdog.Reset(idle) }}
	for {
		msg, err := sc.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return n, err
		}
		switch msg.event {
		case "", "message":
		case "error":
			return n, eventError(msg.data)
		default:
			continue // an event type this client does not know
		}
		var ev Event
		if err := json.Unmarshal([]byte(msg.data), &ev); err != nil {
			return n, &Error{Code: "bad_event", Message: fmt.Sprintf("event %q: %v", msg.id, err)}
		}
		if ev.Seq < p.seq || ev.Seq == p.seq && skip > 0 {
			if ev.Seq == p.seq {
				skip--
			}
			continue
		}
		skip = 0
		w.mu.Lock()
		w.seen = ev.Seq
		w.mu.Unlock()
		watchdog.Stop() // waiting for the reader of Next is not silence
		select {
		case w.msgs <- watchMsg{ev: ev}:
		case <-w.ctx.Done():
			return n, w.ctx.Err()
		}
		watchdog.Reset(idle)
		n++
		if ev.Seq == p.seq {
			p.skip++
		} else {
			*p = position{seq: ev.Seq, skip: 1}
		}
	}
}

// eventError reads the data of an error event.
func eventError(data string) *Error {
	var b errorBody
	if json.Unmarshal([]byte(data), &b) != nil || b.Error == "" {
		return &Error{Code: "bad_event", Message: "error event: " + data}
	}
	return b.toError(0)
}

// Next returns the next event, waiting for one. A ctx that ends returns
// ctx.Err() and leaves the watcher usable. Any other error ends the
// watcher: a *Error the server sent (ErrCompacted when the position was
// purged during an outage), ErrClosed after Close, or the error of the
// ctx given to Watch.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	if w.err != nil {
		return Event{}, w.err
	}
	select {
	case m, ok := <-w.msgs:
		switch {
		case !ok:
			w.err = context.Cause(w.ctx) // ErrClosed after Close
		case m.err != nil:
			w.err = m.err
		}
		if w.err != nil {
			return Event{}, w.err
		}
		w.mu.Lock()
		w.delivered = m.ev.Seq
		w.mu.Unlock()
		return m.ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// Resume is the seq a new watch should start from to go on where this one
// stopped: one past the last seq whose events were all delivered (the
// last delivered seq itself while it may have more events to come).
func (w *Watcher) Resume() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.delivered == 0:
		return w.start
	case w.seen > w.delivered:
		return w.delivered + 1
	}
	return w.delivered
}

// Close ends the watch and releases its connection.
func (w *Watcher) Close() {
	w.cancel(ErrClosed)
	for range w.msgs {
	}
}

// sseMessage is one server-sent event.
type sseMessage struct {
	id, event, data string
}

// sseReader parses a text/event-stream (the WHATWG HTML "server-sent
// events" format): "field: value" lines, ':' comments, a blank line ending
// each message.
type sseReader struct {
	r    *bufio.Reader
	line func() // called for every line read
}

func (s *sseReader) next() (sseMessage, error) {
	var m sseMessage
	var data []string
	hasData := false
	for {
		line, err := s.r.ReadString('\n')
		s.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return m, io.EOF // an unfinished message is dropped, as the format says
			}
			return m, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if !hasData {
				m = sseMessage{}
				continue
			}
			m.data = strings.Join(data, "\n")
			return m, nil
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			// a comment (keep-alive)
		case "id":
			m.id = value
		case "event":
			m.event = value
		case "data":
			data = append(data, value)
			hasData = true
		}
	}
}
