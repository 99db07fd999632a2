package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop"
)

// watchMany opens a multiplexed change stream of domain default with body;
// it fails the test unless the answer is 200 text/event-stream.
func (e *env) watchMany(body string) *sse {
	e.t.Helper()
	return e.openStream("POST", "", strings.NewReader(body))
}

// muxChange reads the next event of a multiplexed stream: a change of the
// watch it names, whose id is its seq.
func (s *sse) muxChange() (string, watchEvent) {
	s.t.Helper()
	id, w := s.typedChange()
	if id == "" {
		s.t.Fatalf("a change of no watch: %+v", w)
	}
	return id, w
}

// TestWatchMany: each watch of a multiplexed stream gets exactly the
// events of its own filter and position, in seq order, labelled with its
// id; the format of each is that of a single-watch stream's event.
func TestWatchMany(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("a", nil)
	e.store("b", nil)
	first := e.put("a", "a0", `"before"`) // only the watch from seq 1 sees it
	st := e.watchMany(`{"watches":[
		{"id":"all","from":1},
		{"id":"a","store":"a"},
		{"id":"bx","store":"b","prefix":"x","old_values":true}]}`)
	type change struct {
		seq       uint64
		store     string
		key       string
		oldValues bool
	}
	want := map[string][]change{"all": {{seq: 1, store: "a"}, {seq: 2, store: "b"}, {seq: first, store: "a", key: `"a0"`}}}
	for i := range 4 {
		sa := e.put("a", fmt.Sprintf("a%d", i+1), `1`)
		sbx := e.put("b", fmt.Sprintf("x%d", i), `2`)
		sby := e.put("b", fmt.Sprintf("y%d", i), `3`)
		want["all"] = append(want["all"], change{seq: sa, store: "a", key: fmt.Sprintf(`"a%d"`, i+1)}, change{seq: sbx, store: "b", key: fmt.Sprintf(`"x%d"`, i)}, change{seq: sby, store: "b", key: fmt.Sprintf(`"y%d"`, i)})
		want["a"] = append(want["a"], change{seq: sa, store: "a", key: fmt.Sprintf(`"a%d"`, i+1)})
		want["bx"] = append(want["bx"], change{seq: sbx, store: "b", key: fmt.Sprintf(`"x%d"`, i), oldValues: true})
	}
	got := map[string][]change{}
	total := len(want["all"]) + len(want["a"]) + len(want["bx"])
	for range total {
		id, ev := st.muxChange()
		got[id] = append(got[id], change{seq: ev.Seq, store: ev.Store, key: string(ev.Key), oldValues: ev.Existed != nil})
	}
	for id, w := range want {
		if fmt.Sprint(got[id]) != fmt.Sprint(w) {
			t.Errorf("watch %s got\n%v\nwant\n%v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events of watches %v, want %v", got, want)
	}
}

// TestWatchManyIndexPrefix: a watch of an index store takes its prefix as
// an array of leading field values, as the single-watch stream does.
func TestWatchManyIndexPrefix(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("people", []map[string]string{{"field": "last"}, {"field": "age", "order": "desc"}})
	st := e.watchMany(`{"watches":[{"id":"smiths","store":"people","prefix":["Smith"]},{"id":"all","store":"people","prefix":"","old_values":true}]}`)
	e.must(http.StatusOK, "POST", "/v1/domains/default/stores/people/items", `{"last":"Jones","age":30}`)
	e.must(http.StatusOK, "POST", "/v1/domains/default/stores/people/items", `{"last":"Smith","age":42}`)
	got := map[string][]string{}
	for range 3 {
		id, ev := st.muxChange()
		got[id] = append(got[id], string(ev.Key))
	}
	if fmt.Sprint(got["smiths"]) != `[["Smith",42]]` || fmt.Sprint(got["all"]) != `[["Jones",30] ["Smith",42]]` {
		t.Fatalf("events by watch: %v", got)
	}
}

// TestWatchManyBadRequests: a multiplexed watch request that cannot start
// is a JSON error naming what is wrong (and which watch), never a stream.
func TestWatchManyBadRequests(t *testing.T) {
	e := newEnvDB(t, sop.Options{WatchHistory: 5}, Options{})
	e.store("s", nil)
	e.store("people", []map[string]string{{"field": "last"}, {"field": "age", "order": "desc"}})
	for i := range 20 {
		e.put("s", strconv.Itoa(i), `1`)
	}
	many := make([]string, maxWatches+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id":"w%d"}`, i)
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
		says   string
	}{
		{``, 400, "bad_json", "empty"},
		{`{"watches":`, 400, "bad_json", "ends inside"},
		{`[]`, 400, "bad_json", "array"},
		{`{"watches":[]}`, 400, "bad_json", "empty"},
		{`{"watches":[{"id":"a","stor":"s"}]}`, 400, "bad_json", "stor"},
		{`{"watches":[{"id":"a","from":-1}]}`, 400, "bad_json", "from"},
		{`{"watches":[{"store":"s"}]}`, 400, "bad_json", `id ""`},
		{`{"watches":[{"id":"a b"}]}`, 400, "bad_json", `id "a b"`},
		{`{"watches":[{"id":"error"}]}`, 400, "bad_json", `"error"`},
		{`{"watches":[{"id":"a"},{"id":"a"}]}`, 400, "bad_json", "twice"},
		{`{"watches":[` + strings.Join(many, ",") + `]}`, 400, "bad_json", "at most 1000"},
		{`{"watches":[{"id":"ok","store":"s"},{"id":"gone","store":"nope"}]}`, 404, "store_not_found", `watch "gone"`},
		{`{"watches":[{"id":"n","store":"s","prefix":7}]}`, 400, "bad_json", `prefix 7`},
		{`{"watches":[{"id":"arr","store":"s","prefix":["a"]}]}`, 400, "bad_json", `prefix ["a"]`},
		{`{"watches":[{"id":"ix","store":"people","prefix":["Smith",1,2,3]}]}`, 400, "bad_key", `prefix`},
		{`{"watches":[{"id":"old","from":2,"old_values":true}]}`, 410, "compacted", `watch "old"`},
	} {
		r := e.fails(c.status, c.code, "POST", "/v1/domains/default/watch", []byte(c.body))
		var ans struct{ Message string }
		r.decode(t, &ans)
		if !strings.Contains(ans.Message, c.says) {
			t.Errorf("%.60s: answer %s does not say %q", c.body, r.body, c.says)
		}
	}
	e.fails(http.StatusNotFound, "domain_not_found", "POST", "/v1/domains/nope/watch", []byte(`{"watches":[{"id":"a"}]}`))
	e.fails(http.StatusBadRequest, "bad_param", "POST", "/v1/domains/default/watch?store=s", []byte(`{"watches":[{"id":"a"}]}`))
	if v := metricValue(t, e, "sop_watchers"); v != 0 {
		t.Fatalf("sop_watchers %v after refused requests", v)
	}
}

// TestWatchManyClosedDB: when the DB closes every watch ends with an error
// event naming it and where to resume, and then the stream ends.
func TestWatchManyClosedDB(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	st := e.watchMany(`{"watches":[{"id":"a"},{"id":"b","store":"s"}]}`)
	within(t, 5*time.Second, "the watches open", func() bool { return metricValue(t, e, "sop_watchers") == 2 })
	e.put("s", "k", `1`)
	seen := map[string]bool{}
	for range 2 {
		id, ev := st.muxChange()
		if ev.Seq != 2 {
			t.Fatalf("watch %s: seq %d, want 2", id, ev.Seq)
		}
		seen[id] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("the change reached %v", seen)
	}
	e.db.Close()
	ended := map[string]bool{}
	for range 2 {
		ev, err := st.next()
		if err != nil || ev.event != "error" {
			t.Fatalf("after close: %+v %v", ev, err)
		}
		var se streamError
		if err := json.Unmarshal([]byte(ev.data), &se); err != nil || se.Error != "unavailable" || se.ResumeFrom != 3 {
			t.Fatalf("error event %q (%v)", ev.data, err)
		}
		ended[se.Watch] = true
	}
	if !ended["a"] || !ended["b"] {
		t.Fatalf("error events for %v", ended)
	}
	if _, err := st.next(); err != io.EOF {
		t.Fatalf("the stream goes on after every watch ended: %v", err)
	}
}

// TestWatchManyConcurrent: 10 streams of 10 watches each see every commit
// of 4 concurrent writers, in seq order, with no gap, each watch on its
// own.
func TestWatchManyConcurrent(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	const streams, perStream, writers, perWriter = 10, 10, 4, 25
	body := `{"watches":[`
	for i := range perStream {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"id":"w%d","store":"s"}`, i)
	}
	body += `]}`
	ss := make([]*sse, streams)
	for i := range ss {
		ss[i] = e.watchMany(body)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := e.try("PUT", itemPath("s", fmt.Sprintf("w%d-%d", w, i)), `1`); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = writers * perWriter
	for i, st := range ss {
		last := map[string]uint64{}
		for range total * perStream {
			id, ev := st.muxChange()
			if prev, ok := last[id]; ok && ev.Seq != prev+1 {
				t.Fatalf("stream %d watch %s: seq %d after %d", i, id, ev.Seq, prev)
			}
			last[id] = ev.Seq
		}
		for id, seq := range last {
			if seq != total+1 { // seq 1 created the store
				t.Fatalf("stream %d watch %s ended at seq %d, want %d", i, id, seq, total+1)
			}
		}
		if len(last) != perStream {
			t.Fatalf("stream %d: events of %d watches, want %d", i, len(last), perStream)
		}
	}
}

// TestWatchManyBehind: watches a client stops reading fall behind and end
// alone, each with an error event naming it and the seq to watch it from
// again; watching from there loses nothing.
func TestWatchManyBehind(t *testing.T) {
	e := newEnvDB(t, sop.Options{WatchHistory: 20}, Options{}, smallSendBuffers)
	e.store("s", nil)
	body := `{"watches":[{"id":"a","from":1},{"id":"b","store":"s"}]}`
	conn := stalledStream(t, e, fmt.Sprintf("POST /v1/domains/default/watch HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	st, last := fallBehind(t, e, conn, 2)
	prev := map[string]uint64{}
	resume := map[string]uint64{}
	for len(resume) < 2 {
		ev, err := st.next()
		if err != nil {
			t.Fatalf("after %v: %v", prev, err)
		}
		if ev.event == "error" {
			var se streamError
			if err := json.Unmarshal([]byte(ev.data), &se); err != nil || se.Error != "behind" || !strings.Contains(se.Message, fmt.Sprintf(`"from":%d`, se.ResumeFrom)) {
				t.Fatalf("error event %q", ev.data)
			}
			if _, ok := prev[se.Watch]; ok && se.ResumeFrom != prev[se.Watch]+1 {
				t.Fatalf("watch %s: resume_from %d after seq %d", se.Watch, se.ResumeFrom, prev[se.Watch])
			}
			resume[se.Watch] = se.ResumeFrom
			continue
		}
		if _, ended := resume[ev.event]; ended {
			t.Fatalf("an event of watch %s after its error event", ev.event)
		}
		seq, _ := strconv.ParseUint(ev.id, 10, 64)
		if p, ok := prev[ev.event]; ok && seq != p+1 {
			t.Fatalf("watch %s: seq %d after %d", ev.event, seq, p)
		}
		prev[ev.event] = seq
	}
	if resume["a"] == 0 || resume["b"] == 0 || resume["a"] > last || resume["b"] > last {
		t.Fatalf("resume_from %v (last seq %d)", resume, last)
	}
	if _, err := st.next(); err != io.EOF {
		t.Fatalf("the stream goes on after every watch ended: %v", err)
	}
	again := e.watchMany(fmt.Sprintf(`{"watches":[{"id":"a","from":%d}]}`, resume["a"]))
	for seq := resume["a"]; seq <= last; seq++ {
		if id, ev := again.muxChange(); id != "a" || ev.Seq != seq {
			t.Fatalf("watching again: watch %s seq %d, want a %d", id, ev.Seq, seq)
		}
	}
}
