package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sopd/sop"
)

// A change stream is Server-Sent Events: each change is
//
//	id: <seq>
//	data: {"seq":..,"store":..,"key":..,"op":..,"value":..}
//
// with a blank line after it. The events of one seq are flushed together,
// with the seqs before them that were at hand.
// An idle stream gets a ": keep-alive" comment every keepAlive. A stream
// that cannot go on ends with
//
//	event: error
//	data: {"error":"behind","message":..,"resume_from":N}
//
// (or another error code), after which the client reconnects with
// Last-Event-ID: N-1 or ?from=N. A client that stops reading is cut off
// when one write blocks for writeTimeout; it never holds up commits.

// eventJSON is one change in a stream.
type eventJSON struct {
	Seq            uint64          `json:"seq"`
	Store          string          `json:"store"`
	Key            any             `json:"key,omitempty"`
	KeyBase64      string          `json:"key_base64,omitempty"`
	Op             string          `json:"op"`
	Value          json.RawMessage `json:"value,omitempty"`
	ValueBase64    *string         `json:"value_base64,omitempty"`
	OldValue       json.RawMessage `json:"old_value,omitempty"`
	OldValueBase64 *string         `json:"old_value_base64,omitempty"`
	Existed        *bool           `json:"existed,omitempty"`
}

// streamError is the data of a stream's final error event (in a
// multiplexed stream, of one watch's, which it names).
type streamError struct {
	Watch      string `json:"watch,omitempty"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ResumeFrom uint64 `json:"resume_from"`
}

// streamError says why watcher wt of domain ended with err, and where to
// resume.
func (s *Server) streamError(domain string, wt *sop.Watcher, err error) streamError {
	var behind *sop.BehindError
	data := streamError{ResumeFrom: wt.Resume()}
	if errors.As(err, &behind) {
		data.Error, data.ResumeFrom = "behind", behind.ResumeFrom
		data.Message = fmt.Sprintf("this stream fell too far behind the commits and was cut off: reconnect with ?from=%d (or Last-Event-ID: %d) to go on without a gap", behind.ResumeFrom, behind.ResumeFrom-1)
		return data
	}
	a := answerFor(err)
	data.Error, data.Message = a.code, messageFor(err, a)
	if a == internal {
		s.log.Error("watch failed", "domain", domain, "err", err)
	}
	return data
}

// watch answers GET /v1/domains/{d}/watch?from=&store=&prefix=&old_values=
// with a change stream. Errors known before it starts (a bad parameter,
// an unknown domain or store, a compacted position) are JSON answers.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) error {
	domain := r.PathValue("d")
	p, err := queryParams(r, "from", "store", "prefix", "old_values", "access_token")
	if err != nil {
		return err
	}
	opts, err := s.watchOptions(r, domain, p)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return nil
	}
	wt, err := s.db.Watch(r.Context(), domain, opts)
	if err != nil {
		return err
	}
	defer wt.Close()
	s.metrics.watchers.Inc()
	defer s.metrics.watchers.Dec()
	st := &stream{
		s: s, w: w, rc: http.NewResponseController(w), wt: wt,
		domain: domain, oldValues: opts.OldValues, keyers: map[string]keyer{},
	}
	st.run(r.Context())
	return nil
}

// watchOptions reads where the stream starts and what it carries:
// Last-Event-ID: N resumes at N+1 and wins over ?from=.
func (s *Server) watchOptions(r *http.Request, domain string, p params) (sop.WatchOptions, error) {
	var opts sop.WatchOptions
	var err error
	if opts.From, err = p.uint("from", 0); err != nil {
		return opts, err
	}
	if h := strings.TrimSpace(r.Header.Get("Last-Event-ID")); h != "" {
		id, err := strconv.ParseUint(h, 10, 64)
		if err != nil || id == ^uint64(0) {
			return opts, reject(errBadParam, "Last-Event-ID %q is not a seq: send the id of the last event received", h)
		}
		opts.From = id + 1
	}
	if opts.OldValues, err = p.bool("old_values"); err != nil {
		return opts, err
	}
	opts.Store, _ = p.str("store")
	prefix, _ := p.str("prefix")
	return s.watchFilter(domain, opts, prefix)
}

// watchFilter sets opts.Prefix from prefix, in store opts.Store's key
// syntax when a store is given (raw bytes otherwise).
func (s *Server) watchFilter(domain string, opts sop.WatchOptions, prefix string) (sop.WatchOptions, error) {
	if opts.Store == "" {
		if prefix != "" {
			opts.Prefix = []byte(prefix)
		}
		return opts, nil
	}
	k, err := s.keyerFor(domain, opts.Store)
	if err != nil {
		return opts, err
	}
	if opts.Prefix, err = bound(k, prefix, "prefix"); err != nil {
		return opts, err
	}
	return opts, nil
}

// stream writes one watcher's events as Server-Sent Events.
type stream struct {
	s         *Server
	w         http.ResponseWriter
	rc        *http.ResponseController
	wt        *sop.Watcher
	domain    string
	oldValues bool
	keyers    map[string]keyer // stores' keyers, looked up on first use
	seq       uint64           // seq of the events written but not flushed
	pending   bool             // events written but not flushed
	unflushed int              // bytes written since the last flush
}

// run streams until the client goes, a write fails, or the watcher ends.
func (st *stream) run(ctx context.Context) {
	defer st.rc.SetWriteDeadline(time.Time{})
	startEvents(st.w)
	if !st.flush() {
		return
	}
	for {
		ev, err := st.next(ctx)
		switch {
		case err == nil:
			if !st.send(ev) {
				return
			}
		case ctx.Err() != nil:
			return // the client went away
		case errors.Is(err, context.DeadlineExceeded):
			if !st.idle() {
				return
			}
		default:
			st.fail(err)
			return
		}
	}
}

// startEvents writes the head of a 200 Server-Sent Events answer.
func startEvents(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
}

// next waits for the next event: up to flushDelay (by default not at
// all) while events wait to be flushed, since Next blocking means their
// seq is complete; up to keepAlive otherwise. A wait that runs out is
// context.DeadlineExceeded, and leaves the watcher usable. An event at
// hand is taken without a timer: Next is first asked with a context that
// has already ended, which returns what is at hand or at once.
func (st *stream) next(ctx context.Context) (sop.Event, error) {
	if ev, err := st.wt.Next(ended); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return ev, err
	}
	wait := st.s.keepAlive
	if st.pending {
		if st.s.flushDelay <= 0 {
			return sop.Event{}, context.DeadlineExceeded
		}
		wait = st.s.flushDelay
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return st.wt.Next(ctx)
}

// ended is a context that has already ended, with DeadlineExceeded.
var ended = func() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	cancel()
	return ctx
}()

// idle flushes what waits, or sends a keep-alive when nothing does.
func (st *stream) idle() bool {
	if !st.pending && !st.write(": keep-alive\n\n") {
		return false
	}
	return st.flush()
}

// flushBytes is how much a stream writes, at most, between flushes while
// events keep coming; below it, events are flushed when the watcher has no
// more at hand. Either way a flush falls between seqs.
const flushBytes = 32 << 10

// send writes ev, first flushing the previous seqs' events when they fill
// flushBytes.
func (st *stream) send(ev sop.Event) bool {
	if st.pending && ev.Seq != st.seq && st.unflushed >= flushBytes && !st.flush() {
		return false
	}
	if ev.Kind == sop.EventCreateStore || ev.Kind == sop.EventDropStore {
		delete(st.keyers, ev.Store) // the next event of this name may be of a new definition
	}
	frame, err := st.frame(ev)
	if err != nil {
		st.s.log.Error("encode watch event", "domain", st.domain, "seq", ev.Seq, "err", err)
		return false
	}
	st.seq, st.pending = ev.Seq, true
	st.unflushed += len(frame)
	return st.writeBytes(frame)
}

// frame is ev as an event of the stream: "id: <seq>\ndata: <json>\n\n".
// Every stream of the node sends the same bytes for one event and
// variant (with or without old values): the first to send it encodes it
// for all.
func (st *stream) frame(ev sop.Event) ([]byte, error) {
	variant := 0
	if st.oldValues {
		variant = 1
	}
	return ev.Encoded(variant, func() ([]byte, error) {
		data, err := marshal(st.event(ev))
		if err != nil {
			return nil, err
		}
		return []byte("id: " + strconv.FormatUint(ev.Seq, 10) + "\ndata: " + data + "\n\n"), nil
	})
}

// marshal encodes v as one line of JSON, without HTML escaping (values
// come back as written).
func marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// event renders ev for the stream.
func (st *stream) event(ev sop.Event) eventJSON {
	out := eventJSON{Seq: ev.Seq, Store: ev.Store, Op: string(ev.Kind)}
	switch ev.Kind {
	case sop.EventCreateStore, sop.EventDropStore:
		return out
	}
	key := st.keyer(ev.Store).encode(ev.Key)
	out.Key, out.KeyBase64 = key.Key, key.Base64
	if ev.Kind == sop.EventPut {
		out.Value, out.ValueBase64 = renderValue(ev.Value)
	}
	if st.oldValues {
		existed := ev.Existed
		out.Existed = &existed
		if existed {
			out.OldValue, out.OldValueBase64 = renderValue(ev.OldValue)
		}
	}
	return out
}

// renderValue is a value as JSON, or as base64 when it is not JSON.
func renderValue(v []byte) (json.RawMessage, *string) {
	raw, b64 := value(v)
	if raw != nil {
		return raw, nil
	}
	return nil, &b64
}

// keyer returns how to render store's keys: by its index when it has
// one. A store no longer there renders as a plain store.
func (st *stream) keyer(store string) keyer {
	if k, ok := st.keyers[store]; ok {
		return k
	}
	k := keyer{store: store, maxKey: st.s.opts.MaxKeySize}
	if found, err := st.s.keyerFor(st.domain, store); err == nil {
		k = found
	}
	st.keyers[store] = k
	return k
}

// fail ends the stream with an error event naming where to resume.
func (st *stream) fail(err error) {
	b, _ := marshal(st.s.streamError(st.domain, st.wt, err))
	if st.pending && !st.flush() {
		return
	}
	if st.write("event: error\ndata: " + b + "\n\n") {
		st.flush()
	}
}

// write writes text within the write timeout.
func (st *stream) write(text string) bool {
	return st.writeBytes([]byte(text))
}

// writeBytes writes b within the write timeout, which is set at the first
// write after a flush (and at each flush): a batch of events written
// back to back shares one deadline.
func (st *stream) writeBytes(b []byte) bool {
	if st.unflushed == len(b) || !st.pending {
		st.rc.SetWriteDeadline(time.Now().Add(st.s.writeTimeout))
	}
	_, err := st.w.Write(b)
	return err == nil
}

// flush sends what was written within the write timeout.
func (st *stream) flush() bool {
	st.rc.SetWriteDeadline(time.Now().Add(st.s.writeTimeout))
	st.pending, st.unflushed = false, 0
	return st.rc.Flush() == nil
}
