// Package journaltest is the conformance suite every journal.Journal
// implementation passes: the in-memory journal and the JetStream journal run
// the same tests, so they behave the same.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sopd/sop/journal"
)

// Config describes the implementation under test.
type Config struct {
	// Open returns a new, empty journal; it is closed by the caller's
	// t.Cleanup if it needs closing.
	Open func(t *testing.T) journal.Journal
	// MaxMsgSize is the largest message the journal accepts.
	MaxMsgSize int
}

// Run runs the suite.
func Run(t *testing.T, c Config) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, journal.Journal, Config)
	}{
		{"AppendRead", testAppendRead},
		{"Fence", testFence},
		{"Dedupe", testDedupe},
		{"Compaction", testCompaction},
		{"Follow", testFollow},
		{"TooLarge", testTooLarge},
		{"LargeGroup", testLargeGroup},
		{"Concurrent", testConcurrent},
		{"Staged", testStaged},
		{"StagedErrors", testStagedErrors},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c.Open(t), c) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func msgs(prefix string, n int) []journal.Msg {
	out := make([]journal.Msg, n)
	for i := range out {
		out[i] = journal.Msg{ID: fmt.Sprintf("%s-%d", prefix, i), Data: fmt.Appendf(nil, "data %s %d", prefix, i)}
	}
	return out
}

func mustAppend(t *testing.T, j journal.Journal, last journal.Seq, m []journal.Msg) journal.Seq {
	t.Helper()
	first, err := j.Append(ctx(t), last, m)
	if err != nil {
		t.Fatalf("append after %d: %v", last, err)
	}
	if first != last+1 {
		t.Fatalf("append after %d returned first seq %d", last, first)
	}
	return first
}

func bounds(t *testing.T, j journal.Journal) (journal.Seq, journal.Seq) {
	t.Helper()
	f, l, err := j.Bounds(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return f, l
}

// checkRecords verifies that recs are want, at consecutive seqs from first.
func checkRecords(t *testing.T, recs []journal.Record, first journal.Seq, want []journal.Msg) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.Seq != first+journal.Seq(i) || r.ID != want[i].ID || string(r.Data) != string(want[i].Data) {
			t.Fatalf("record %d = {%d %q %q}, want {%d %q %q}", i, r.Seq, r.ID, r.Data, first+journal.Seq(i), want[i].ID, want[i].Data)
		}
	}
}

func testAppendRead(t *testing.T, j journal.Journal, _ Config) {
	if f, l := bounds(t, j); f != 1 || l != 0 {
		t.Fatalf("empty journal bounds (%d, %d), want (1, 0)", f, l)
	}
	a, b := msgs("a", 3), msgs("b", 2)
	mustAppend(t, j, 0, a)
	mustAppend(t, j, 3, b)
	if f, l := bounds(t, j); f != 1 || l != 5 {
		t.Fatalf("bounds (%d, %d), want (1, 5)", f, l)
	}
	recs, err := j.Read(ctx(t), 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, 1, append(a, b...))
	recs, _ = j.Read(ctx(t), 3, 2)
	checkRecords(t, recs, 3, []journal.Msg{a[2], b[0]})
	if recs, err := j.Read(ctx(t), 6, 10); err != nil || len(recs) != 0 {
		t.Fatalf("read past the end: %d records, %v", len(recs), err)
	}
	if first, err := j.Append(ctx(t), 5, nil); err != nil || first != 6 {
		t.Fatalf("empty append: %d, %v", first, err)
	}
}

func testFence(t *testing.T, j journal.Journal, _ Config) {
	mustAppend(t, j, 0, msgs("a", 2))
	for _, stale := range []journal.Seq{0, 1, 3} {
		_, err := j.Append(ctx(t), stale, msgs(fmt.Sprint("stale", stale), 2))
		var fe *journal.FencedError
		if !errors.Is(err, journal.ErrFenced) || !errors.As(err, &fe) || fe.Last != 2 {
			t.Fatalf("append expecting %d on a journal at 2: %v", stale, err)
		}
	}
	if _, l := bounds(t, j); l != 2 {
		t.Fatalf("fenced appends changed the journal: last %d", l)
	}
	if _, err := j.Append(ctx(t), 1, nil); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("empty append with a stale fence: %v", err)
	}
}

func testDedupe(t *testing.T, j journal.Journal, _ Config) {
	a := msgs("a", 2)
	mustAppend(t, j, 0, a)
	// A retried group, and a new group reusing one id: rejected whole.
	for _, group := range [][]journal.Msg{a, {{ID: "new", Data: []byte("x")}, a[1]}} {
		_, err := j.Append(ctx(t), 2, group)
		var de *journal.DuplicateError
		if !errors.Is(err, journal.ErrDuplicate) || !errors.As(err, &de) || de.ID != a[0].ID && de.ID != a[1].ID {
			t.Fatalf("append with a seen id: %v", err)
		}
	}
	// A committed group retried with a stale fence reports the duplicate,
	// not the fence: the id is the more useful answer to a retry.
	if _, err := j.Append(ctx(t), 0, a); !errors.Is(err, journal.ErrDuplicate) {
		t.Fatalf("retry of a committed group with a stale fence: %v", err)
	}
	// One-message groups: a retry reports the duplicate with its seq even
	// behind a stale fence; a new id behind a stale fence is fenced.
	one := []journal.Msg{{ID: "single", Data: []byte("s")}}
	mustAppend(t, j, 2, one)
	for _, expect := range []journal.Seq{3, 1} {
		_, err := j.Append(ctx(t), expect, one)
		var de *journal.DuplicateError
		if !errors.As(err, &de) || de.ID != "single" || de.Seq != 3 && de.Seq != 0 {
			t.Fatalf("retry of a one-message group expecting %d: %v", expect, err)
		}
	}
	if _, err := j.Append(ctx(t), 1, []journal.Msg{{ID: "fresh", Data: []byte("f")}}); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("a one-message group behind a stale fence: %v", err)
	}
	// The same id twice in one group.
	twice := []journal.Msg{{ID: "t", Data: []byte("1")}, {ID: "t", Data: []byte("2")}}
	if _, err := j.Append(ctx(t), 3, twice); !errors.Is(err, journal.ErrDuplicate) {
		t.Fatalf("an id twice in one group: %v", err)
	}
	if _, l := bounds(t, j); l != 3 {
		t.Fatalf("rejected appends changed the journal: last %d", l)
	}
}

func testCompaction(t *testing.T, j journal.Journal, _ Config) {
	mustAppend(t, j, 0, msgs("a", 10))
	if err := j.Purge(ctx(t), 5); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, j); f != 5 || l != 10 {
		t.Fatalf("bounds after purge below 5: (%d, %d), want (5, 10)", f, l)
	}
	_, err := j.Read(ctx(t), 4, 10)
	var ce *journal.CompactedError
	if !errors.Is(err, journal.ErrCompacted) || !errors.As(err, &ce) || ce.First != 5 {
		t.Fatalf("read of a purged seq: %v", err)
	}
	if err := j.Follow(ctx(t), 2, func(journal.Record) error { return nil }); !errors.Is(err, journal.ErrCompacted) {
		t.Fatalf("follow from a purged seq: %v", err)
	}
	recs, err := j.Read(ctx(t), 5, 100)
	if err != nil || len(recs) != 6 || recs[0].Seq != 5 {
		t.Fatalf("read from the first retained seq: %d records, %v", len(recs), err)
	}
	// Purging everything keeps the fence where it was.
	if err := j.Purge(ctx(t), 100); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, j); f != 11 || l != 10 {
		t.Fatalf("bounds after purging everything: (%d, %d), want (11, 10)", f, l)
	}
	mustAppend(t, j, 10, msgs("b", 1))
	if err := j.Purge(ctx(t), 3); err != nil {
		t.Fatalf("purge below the first retained seq: %v", err)
	}
}

func testFollow(t *testing.T, j journal.Journal, _ Config) {
	mustAppend(t, j, 0, msgs("a", 3))
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	got := make(chan journal.Record, 100)
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(c, 2, func(r journal.Record) error { got <- r; return nil })
	}()
	mustAppend(t, j, 3, msgs("b", 2))
	want := journal.Seq(2)
	for want <= 5 {
		select {
		case r := <-got:
			if r.Seq != want {
				t.Fatalf("follow delivered seq %d, want %d", r.Seq, want)
			}
			want++
		case <-time.After(10 * time.Second):
			t.Fatalf("follow did not deliver seq %d within 10s", want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("follow after cancel returned %v", err)
	}
	stop := errors.New("stop")
	if err := j.Follow(ctx(t), 1, func(journal.Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("follow returns fn's error: %v", err)
	}
	// Following from just past the end waits for the next append.
	c2, cancel2 := context.WithCancel(ctx(t))
	defer cancel2()
	go func() {
		done <- j.Follow(c2, 6, func(r journal.Record) error { got <- r; return nil })
	}()
	time.Sleep(50 * time.Millisecond) // let the subscription start before the append
	mustAppend(t, j, 5, msgs("c", 1))
	select {
	case r := <-got:
		if r.Seq != 6 {
			t.Fatalf("follow from the end delivered seq %d, want 6", r.Seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow from just past the end did not deliver the next append within 10s")
	}
}

func testTooLarge(t *testing.T, j journal.Journal, c Config) {
	big := []journal.Msg{{ID: "ok", Data: []byte("x")}, {ID: "big", Data: make([]byte, c.MaxMsgSize+1)}}
	if _, err := j.Append(ctx(t), 0, big); !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("message over the limit: %v", err)
	}
	if _, l := bounds(t, j); l != 0 {
		t.Fatalf("a rejected group was partly stored: last %d", l)
	}
}

// testLargeGroup appends more messages than a JetStream atomic batch holds.
func testLargeGroup(t *testing.T, j journal.Journal, _ Config) {
	m := msgs("g", 2500)
	mustAppend(t, j, 0, m)
	recs, err := j.Read(ctx(t), 1, 3000)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, 1, m)
}

// testConcurrent races appenders on one fence: exactly one wins each round.
func testConcurrent(t *testing.T, j journal.Journal, _ Config) {
	last := journal.Seq(0)
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		wins := make(chan journal.Seq, 4)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := j.Append(ctx(t), last, msgs(fmt.Sprintf("r%d-w%d", round, w), 2))
				switch {
				case err == nil:
					wins <- first
				case !errors.Is(err, journal.ErrFenced):
					t.Errorf("round %d writer %d: %v", round, w, err)
				}
			}()
		}
		wg.Wait()
		close(wins)
		n := 0
		for range wins {
			n++
		}
		if n != 1 {
			t.Fatalf("round %d: %d appenders won, want exactly 1", round, n)
		}
		last += 2
	}
}

// stager returns j as a journal.Stager; every implementation is one.
func stager(t *testing.T, j journal.Journal) journal.Stager {
	t.Helper()
	st, ok := j.(journal.Stager)
	if !ok {
		t.Fatalf("%T is not a journal.Stager", j)
	}
	return st
}

// testStaged: a staged group is stored like an appended one, whatever the
// pieces it was added in; Data may be reused once Add returns; an empty
// group is a fence check; an abandoned group stores nothing.
func testStaged(t *testing.T, j journal.Journal, _ Config) {
	st := stager(t, j)
	if st.StageLimit() < 2 {
		t.Fatalf("StageLimit %d", st.StageLimit())
	}
	m := msgs("s", 5)
	g := st.Stage(0)
	buf := []byte("reused buffer")
	if err := g.Add(journal.Msg{ID: m[0].ID, Data: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "overwritten!!") // after Add: the journal kept its own copy
	m[0].Data = []byte("reused buffer")
	if err := g.Add(m[1:3]...); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(m[3:]...); err != nil {
		t.Fatal(err)
	}
	if first, err := g.Commit(ctx(t)); err != nil || first != 1 {
		t.Fatalf("commit of a staged group: first %d, %v", first, err)
	}
	if _, err := g.Commit(ctx(t)); err == nil {
		t.Fatal("a staged group committed twice")
	}
	recs, err := j.Read(ctx(t), 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, 1, m)

	// One message.
	one := msgs("one", 1)
	g = st.Stage(5)
	if err := g.Add(one...); err != nil {
		t.Fatal(err)
	}
	if first, err := g.Commit(ctx(t)); err != nil || first != 6 {
		t.Fatalf("commit of a one-message staged group: first %d, %v", first, err)
	}

	// Empty: the fence only.
	if first, err := st.Stage(6).Commit(ctx(t)); err != nil || first != 7 {
		t.Fatalf("empty staged group at the end: %d, %v", first, err)
	}
	if _, err := st.Stage(5).Commit(ctx(t)); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("empty staged group behind a stale fence: %v", err)
	}

	// Abandoned: nothing lands, and the fence is free for the next group.
	g = st.Stage(6)
	if err := g.Add(msgs("gone", 3)...); err != nil {
		t.Fatal(err)
	}
	g.Abandon()
	if _, err := g.Commit(ctx(t)); err == nil {
		t.Fatal("an abandoned group committed")
	}
	mustAppend(t, j, 6, msgs("after", 2))
	recs, err = j.Read(ctx(t), 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 8 || recs[6].ID != "after-0" {
		t.Fatalf("after an abandoned group: %d records, the 7th %+v", len(recs), recs[min(6, len(recs)-1)])
	}
}

// testStagedErrors: a staged group fails as Append would, and stores
// nothing: fenced, an id stored before, an id twice in the group, a
// message over the size limit, more messages than StageLimit.
func testStagedErrors(t *testing.T, j journal.Journal, c Config) {
	st := stager(t, j)
	a := msgs("a", 2)
	mustAppend(t, j, 0, a)
	commit := func(expect journal.Seq, groups ...[]journal.Msg) error {
		g := st.Stage(expect)
		for _, m := range groups {
			if err := g.Add(m...); err != nil {
				break // Commit reports it
			}
		}
		_, err := g.Commit(ctx(t))
		return err
	}
	var fe *journal.FencedError
	if err := commit(1, msgs("stale", 2)); !errors.As(err, &fe) || fe.Last != 2 {
		t.Fatalf("staged group behind a stale fence: %v", err)
	}
	if err := commit(2, msgs("new", 1), a[1:]); !errors.Is(err, journal.ErrDuplicate) {
		t.Fatalf("staged group with a stored id: %v", err)
	}
	twice := []journal.Msg{{ID: "t", Data: []byte("1")}}
	if err := commit(2, twice, twice); !errors.Is(err, journal.ErrDuplicate) {
		t.Fatalf("staged group with an id twice: %v", err)
	}
	big := []journal.Msg{{ID: "big", Data: make([]byte, c.MaxMsgSize+1)}}
	if err := commit(2, msgs("ok", 1), big); !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("staged group with a message over the limit: %v", err)
	}
	if err := commit(2, msgs("many", st.StageLimit()+1)); !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("staged group over StageLimit: %v", err)
	}
	if _, l := bounds(t, j); l != 2 {
		t.Fatalf("failed staged groups changed the journal: last %d", l)
	}
	mustAppend(t, j, 2, msgs("b", 1))
}
