package ui_test

import (
	"context"
	"strconv"
	"testing"
)

// TestUIWatch: the change stream view shows a change committed after it
// started listening (from now), honours the key prefix filter, and from a
// seq replays the earlier changes.
func TestUIWatch(t *testing.T) {
	n := newNode(t, "", "")
	n.createStore("events")
	first := n.put("events", "early", `{"n":0}`)
	p := newPage(t)
	p.open(n, "#/d/default/watch")
	p.waitText("#watch-store", "events")

	p.click("#watch-start")
	p.until("listening", `document.querySelector('#watch-status[data-state="listening"]')`)
	seq := n.put("events", "k1", `{"n":1}`)
	p.waitText(`#events tr[data-seq="`+strconv.FormatUint(seq, 10)+`"]`, "k1")
	if got := p.texts("#events td.key"); len(got) != 1 {
		t.Errorf("from now: keys %q, want only k1", got)
	}

	// A prefix filter: b1 commits before a1, so had it passed the filter it
	// would show before a1 does.
	p.click("#watch-stop")
	p.waitText("#watch-status", "Stopped")
	p.click("#watch-clear")
	p.setValue("#watch-store", "events")
	p.typeIn("#watch-prefix", "a")
	p.click("#watch-start")
	p.until("listening", `document.querySelector('#watch-status[data-state="listening"]')`)
	n.put("events", "b1", `1`)
	n.put("events", "a1", `2`)
	p.waitText("#events", "a1")
	if got := p.texts("#events td.key"); len(got) != 1 || got[0] != "a1" {
		t.Errorf("with prefix a: keys %q, want a1", got)
	}

	// From a seq: the history first.
	p.click("#watch-stop")
	p.click("#watch-clear")
	p.setValue("#watch-prefix", "")
	p.click("#from-seq")
	p.setValue("#from-value", strconv.FormatUint(first, 10))
	p.click("#watch-start")
	p.waitText(`#events tr[data-seq="`+strconv.FormatUint(first, 10)+`"]`, "early")
	p.waitText("#events", "a1")
	p.waitText("#event-count", "4 events")
}

// TestUIJournalSnapshotsStatus: the journal view shows the bounds and the
// recent transactions; a snapshot taken in the UI is listed; the status
// view shows the node, its role per domain, applied seq and lag, health
// and members.
func TestUIJournalSnapshotsStatus(t *testing.T) {
	n := newNode(t, "", "")
	n.createStore("users")
	n.put("users", "alice", `{"name":"Alice"}`)
	last := n.put("users", "bob", `{"name":"Bob"}`)
	p := newPage(t)

	st, err := n.c.Status(context.Background())
	if err != nil || len(st.Domains) == 0 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	p.open(n, "#/d/default/journal")
	p.waitText("#journal-last", strconv.FormatUint(last, 10))
	if got, want := eval[string](p, `document.querySelector("#journal-first").textContent`), strconv.FormatUint(st.Domains[0].JournalFirstSeq, 10); got != want {
		t.Errorf("journal's first seq shown: %s, want %s", got, want)
	}
	p.waitText(`#journal tr[data-seq="`+strconv.FormatUint(last, 10)+`"]`, "put users bob")
	p.waitText("#journal", "create_store users")

	p.click(`#nav a[data-screen="snapshots"]`)
	p.waitText("#snapshots", "No snapshots yet")
	p.click("#take-snapshot")
	p.waitText("#banner", "Took snapshot")
	snaps, err := n.c.Snapshots(context.Background(), "default")
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots after taking one in the UI: %v, %v", snaps, err)
	}
	p.waitText("#snapshots", snaps[0].ID)

	p.click(`#nav a[data-screen="status"]`)
	p.waitText("#node-id", n.db.Node())
	p.waitText(`#domains-status tr[data-domain="default"] .role`, "leader")
	p.waitText(`#domains-status tr[data-domain="default"] .lag`, "0")
	p.waitText("#healthz", "ok")
	p.waitText("#readyz", "ready")
	p.waitText("#members", n.db.Node())
	p.waitText("#failovers", "0")
	p.waitText("#data-dir", n.db.DataDir())
}

// TestUIErrorsInWords: what the API refuses is shown as its message and
// code, never as a blank page.
func TestUIErrorsInWords(t *testing.T) {
	n := newNode(t, "", "")
	n.createStore("people", "last", "age desc")
	n.put("people", `["Smith",42]`, `{"last":"Smith","age":42}`)
	p := newPage(t)

	p.open(n, "#/d/nowhere/stores")
	p.waitText("#main .error", "domain_not_found")
	p.open(n, "#/d/default/s/missing")
	p.waitText("#main .error", `there is no store "missing"`)

	// An edit that changes an indexed field would move the item: the API
	// refuses it, and says why.
	p.open(n, "#/d/default/s/people")
	p.waitText("#page-info", "items 1–1")
	openItem(p, `["Smith",42]`)
	p.click("#edit-item")
	p.setValue("#edit-value", `{"last":"Smith","age":43}`)
	p.click("#save-item")
	p.waitText("#edit-status .error", "key_mismatch")

	// A bad search bound is refused before any call.
	p.setValue("#start", "Smith")
	p.click("#search-btn")
	p.waitText("#search .error", "From key is a JSON array")
}
