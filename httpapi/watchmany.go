package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/sopd/sop"
)

// A multiplexed change stream carries many watches of one domain on one
// connection, as etcd's Watch stream does: POST /v1/domains/{d}/watch
// with
//
//	{"watches":[{"id":"a","store":"s","prefix":"k","from":17,"old_values":false}, ...]}
//
// answers with Server-Sent Events in which each change is the event of a
// single-watch stream with its watch's id as the event type:
//
//	event: a
//	id: <seq>
//	data: {"seq":..,"store":..,"key":..,"op":..,"value":..}
//
// Each watch is its own subscription (its own position, filter and cut-off
// when it falls behind); the stream only shares the connection, and
// flushes what all its watches have at hand at once. A watch that cannot
// go on ends alone with
//
//	event: error
//	data: {"watch":"a","error":"behind","message":..,"resume_from":N}
//
// and the stream ends when every watch has ended (or the client goes, or
// a write blocks for writeTimeout).

// maxWatches bounds the watches of one multiplexed stream.
const maxWatches = 1000

// watchesBody is the body of a multiplexed watch request.
type watchesBody struct {
	Watches []watchSpec `json:"watches"`
}

// watchSpec is one watch of a multiplexed stream.
type watchSpec struct {
	ID        string          `json:"id"`
	Store     string          `json:"store"`
	Prefix    json.RawMessage `json:"prefix"` // a string, or an index store's array of leading field values
	From      uint64          `json:"from"`
	OldValues bool            `json:"old_values"`
}

var watchID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// watchMany answers POST /v1/domains/{d}/watch with a multiplexed change
// stream. Errors known before it starts (a bad body, an unknown domain or
// store, a compacted position) are JSON answers naming the watch.
func (s *Server) watchMany(w http.ResponseWriter, r *http.Request) error {
	domain := r.PathValue("d")
	var wb watchesBody
	if err := s.readJSON(w, r, &wb); err != nil {
		return err
	}
	switch n := len(wb.Watches); {
	case n == 0:
		return reject(errBadJSON, `"watches" is empty: give at least one watch, as {"id":"a","store":"s"}`)
	case n > maxWatches:
		return reject(errBadJSON, "%d watches: one stream carries at most %d; open another stream for the rest", n, maxWatches)
	}
	m := &muxStream{s: s, w: w, rc: http.NewResponseController(w), domain: domain, frames: make(chan muxFrame, 4*len(wb.Watches))}
	m.bw = bufio.NewWriterSize(w, muxBuffer)
	defer m.close()
	seen := map[string]bool{}
	for i, spec := range wb.Watches {
		if !watchID.MatchString(spec.ID) || spec.ID == "error" {
			return reject(errBadJSON, "watch %d: id %q: give 1 to 64 of A-Z a-z 0-9 _ . - (and not \"error\")", i, spec.ID)
		}
		if seen[spec.ID] {
			return reject(errBadJSON, "watch %d: id %q is used twice: give each watch its own", i, spec.ID)
		}
		seen[spec.ID] = true
		prefix, err := s.prefixText(domain, spec)
		if err != nil {
			return err
		}
		opts, err := s.watchFilter(domain, sop.WatchOptions{Store: spec.Store, From: spec.From, OldValues: spec.OldValues}, prefix)
		if err != nil {
			return fmt.Errorf("watch %q: %w", spec.ID, err)
		}
		wt, err := s.db.Watch(r.Context(), domain, opts)
		if err != nil {
			return fmt.Errorf("watch %q: %w", spec.ID, err)
		}
		m.watches = append(m.watches, &muxWatch{
			id: spec.ID, head: []byte("event: " + spec.ID + "\n"), wt: wt,
			st: &stream{s: s, domain: domain, oldValues: spec.OldValues, keyers: map[string]keyer{}},
		})
	}
	s.metrics.watchers.Add(float64(len(m.watches)))
	defer s.metrics.watchers.Sub(float64(len(m.watches)))
	m.run(r.Context())
	return nil
}

// prefixText is a watch's prefix as the single-watch stream's prefix
// parameter would give it: a JSON string's value, or an array's JSON text
// for an index store.
func (s *Server) prefixText(domain string, spec watchSpec) (string, error) {
	p := spec.Prefix
	switch {
	case len(p) == 0 || string(p) == "null":
		return "", nil
	case p[0] == '"':
		var text string
		if err := json.Unmarshal(p, &text); err != nil {
			return "", reject(errBadJSON, "watch %q: prefix: %v", spec.ID, err)
		}
		return text, nil
	case p[0] == '[' && spec.Store != "":
		k, err := s.keyerFor(domain, spec.Store)
		if err != nil {
			return "", fmt.Errorf("watch %q: %w", spec.ID, err)
		}
		if k.indexed() {
			return string(p), nil
		}
	}
	return "", reject(errBadJSON, "watch %q: prefix %s: give a string, or for a store with an index an array of leading field values", spec.ID, p)
}

// muxBuffer is the write buffer of a multiplexed stream: the events its
// watches have at hand go out in writes of this size.
const muxBuffer = 64 << 10

// muxStream writes the events of many watches to one response.
type muxStream struct {
	s       *Server
	w       http.ResponseWriter
	bw      *bufio.Writer // over w
	rc      *http.ResponseController
	domain  string
	watches []*muxWatch
	frames  chan muxFrame // from the watches' pumps to the writer
}

// muxWatch is one watch of a multiplexed stream.
type muxWatch struct {
	id   string
	head []byte // "event: <id>\n"
	wt   *sop.Watcher
	st   *stream // renders the watch's events (keyers, old values)
}

// muxFrame is what a pump hands the writer: an event's frame after its
// watch's head, or (head nil) a whole error event.
type muxFrame struct {
	head, body []byte
}

func (m *muxStream) close() {
	for _, mw := range m.watches {
		mw.wt.Close()
	}
}

// run streams until every watch has ended, the client goes, or a write
// fails.
func (m *muxStream) run(ctx context.Context) {
	defer m.rc.SetWriteDeadline(time.Time{})
	startEvents(m.w)
	if !m.flush() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pumps sync.WaitGroup
	for _, mw := range m.watches {
		pumps.Go(func() { m.pump(ctx, mw) })
	}
	ended := make(chan struct{})
	go func() {
		pumps.Wait()
		close(ended)
	}()
	defer func() {
		cancel()
		<-ended // the pumps write nothing after this
	}()
	keepAlive := time.NewTimer(m.s.keepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case f := <-m.frames:
			// Everything at hand goes in one flush, under one deadline.
			m.rc.SetWriteDeadline(time.Now().Add(m.s.writeTimeout))
			if !m.write(f) || !m.writeQueued() || !m.flush() {
				return
			}
			keepAlive.Reset(m.s.keepAlive)
		case <-keepAlive.C:
			m.rc.SetWriteDeadline(time.Now().Add(m.s.writeTimeout))
			if !m.writeBytes([]byte(": keep-alive\n\n")) || !m.flush() {
				return
			}
			keepAlive.Reset(m.s.keepAlive)
		case <-ended:
			// Every watch ended: send what they left, then end.
			m.rc.SetWriteDeadline(time.Now().Add(m.s.writeTimeout))
			if m.writeQueued() {
				m.flush()
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// pump hands mw's events to the writer until ctx ends or the watch does
// (then with its error event).
func (m *muxStream) pump(ctx context.Context, mw *muxWatch) {
	for {
		ev, err := mw.wt.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			data := m.s.streamError(m.domain, mw.wt, err)
			data.Watch = mw.id
			if data.Error == "behind" {
				data.Message = fmt.Sprintf("watch %q fell too far behind the commits and was cut off: watch it again with \"from\":%d to go on without a gap", mw.id, data.ResumeFrom)
			}
			m.sendError(ctx, data)
			return
		}
		if ev.Kind == sop.EventCreateStore || ev.Kind == sop.EventDropStore {
			delete(mw.st.keyers, ev.Store)
		}
		frame, err := mw.st.frame(ev)
		if err != nil {
			m.s.log.Error("encode watch event", "domain", m.domain, "seq", ev.Seq, "err", err)
			m.sendError(ctx, streamError{Watch: mw.id, Error: "internal", Message: fmt.Sprintf("the event at seq %d could not be encoded", ev.Seq), ResumeFrom: ev.Seq})
			return
		}
		if !m.send(ctx, muxFrame{head: mw.head, body: frame}) {
			return
		}
	}
}

// sendError hands the writer the error event that ends a watch.
func (m *muxStream) sendError(ctx context.Context, data streamError) {
	b, _ := marshal(data)
	m.send(ctx, muxFrame{body: []byte("event: error\ndata: " + b + "\n\n")})
}

// writeQueued writes every frame the pumps have handed over, without
// waiting for more.
func (m *muxStream) writeQueued() bool {
	for {
		select {
		case f := <-m.frames:
			if !m.write(f) {
				return false
			}
		default:
			return true
		}
	}
}

// send hands f to the writer; false when ctx ended first.
func (m *muxStream) send(ctx context.Context, f muxFrame) bool {
	select {
	case m.frames <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *muxStream) write(f muxFrame) bool {
	if f.head != nil && !m.writeBytes(f.head) {
		return false
	}
	return m.writeBytes(f.body)
}

// writeBytes writes b to the buffer (and to the connection when it
// fills), under the deadline the caller set.
func (m *muxStream) writeBytes(b []byte) bool {
	_, err := m.bw.Write(b)
	return err == nil
}

// flush sends what was written within the write timeout.
func (m *muxStream) flush() bool {
	m.rc.SetWriteDeadline(time.Now().Add(m.s.writeTimeout))
	return m.bw.Flush() == nil && m.rc.Flush() == nil
}
