package ui_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// plainStore is a node with store users holding alice, bob, carol and
// dave, and a tab browsing it.
func plainStore(t *testing.T) (*node, *page) {
	n := newNode(t, "", "")
	n.createStore("users")
	for _, k := range []string{"alice", "bob", "carol", "dave"} {
		n.put("users", k, `{"name":"`+strings.ToUpper(k[:1])+k[1:]+`","plan":"pro"}`)
	}
	p := newPage(t)
	p.open(n, "#/d/default/s/users")
	p.waitText("#page-info", "items 1–4 (last page)")
	return n, p
}

// openItem clicks key's row and waits for its panel.
func openItem(p *page, key string) {
	p.t.Helper()
	p.click(`#items tr[data-key='` + key + `'] td.key`)
	p.waitText("#item-key", key)
	p.waitVisible("#item-value")
}

// value is the plan of an item's {"name","plan"} value.
func plan(t *testing.T, raw json.RawMessage) string {
	var v struct{ Plan string }
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("value %s: %v", raw, err)
	}
	return v.Plan
}

// TestUIEditAndConflict: an edit saves as a compare-and-set on the
// version; when the item changes underneath between load and save, the UI
// shows a conflict with the current value, nothing is overwritten, and
// the user may then build on the new version.
func TestUIEditAndConflict(t *testing.T) {
	n, p := plainStore(t)
	openItem(p, "alice")
	before, _ := n.get("users", "alice")
	p.waitText("#item-version", strconv.FormatUint(before.Version, 10))

	p.click("#edit-item")
	p.setValue("#edit-value", `{"name":"Alice","plan":"free"}`)
	p.click("#save-item")
	p.waitVisible("#saved")
	saved, _ := n.get("users", "alice")
	if plan(t, saved.Value) != "free" || saved.Version <= before.Version {
		t.Fatalf("after save: %s version %d (was %d)", saved.Value, saved.Version, before.Version)
	}
	p.waitText("#item-version", strconv.FormatUint(saved.Version, 10))

	// Loaded at saved.Version; changed through the API before the save.
	p.click("#edit-item")
	p.setValue("#edit-value", `{"name":"Alice","plan":"team"}`)
	other := n.put("users", "alice", `{"name":"Alice","plan":"enterprise"}`)
	p.click("#save-item")
	p.waitVisible("#conflict")
	p.waitText("#conflict", "you edited version "+strconv.FormatUint(saved.Version, 10)+", it is now version "+strconv.FormatUint(other, 10))
	p.waitText("#conflict-value", "enterprise")
	if now, _ := n.get("users", "alice"); plan(t, now.Value) != "enterprise" || now.Version != other {
		t.Fatalf("the concurrent change was overwritten: %s version %d", now.Value, now.Version)
	}

	// The user keeps the edit, now on top of the newer version.
	p.click("#conflict-rebase")
	p.waitText("#item-panel .field", "editing version "+strconv.FormatUint(other, 10))
	if got := eval[string](p, `document.querySelector("#edit-value").value`); !strings.Contains(got, "team") {
		t.Errorf("the editor lost the user's change: %s", got)
	}
	p.click("#save-item")
	p.waitVisible("#saved")
	if now, _ := n.get("users", "alice"); plan(t, now.Value) != "team" {
		t.Errorf("after the informed save: %s", now.Value)
	}

	// A value that is not JSON is refused in words, before any call.
	p.click("#edit-item")
	p.setValue("#edit-value", `{"name":`)
	p.click("#save-item")
	p.waitText("#edit-status .error", "The value is not JSON")
}

// TestUIAddDelete: items are added (an existing key is refused in words),
// deleted one by one after a confirmation (not when changed underneath),
// and deleted in bulk from a selection (all or nothing).
func TestUIAddDelete(t *testing.T) {
	n, p := plainStore(t)

	p.click("#add-item")
	p.typeIn("#new-key", "erin")
	p.setValue("#new-value", `{"name":"Erin"}`)
	p.click("#save-new")
	p.waitVisible("#added")
	if _, ok := n.get("users", "erin"); !ok {
		t.Fatal("erin added in the UI is not in the store")
	}
	p.waitText("#page-info", "items 1–5")
	p.click("#add-item")
	p.typeIn("#new-key", "bob")
	p.setValue("#new-value", `1`)
	p.click("#save-new")
	p.waitText("#item-panel .error", "condition_failed")
	if bob, _ := n.get("users", "bob"); plan(t, bob.Value) != "pro" {
		t.Fatalf("adding an existing key overwrote it: %s", bob.Value)
	}

	openItem(p, "bob")
	p.click("#delete-item")
	p.click("#confirm-ok")
	p.waitVisible("#deleted")
	if _, ok := n.get("users", "bob"); ok {
		t.Fatal("bob deleted in the UI is still there")
	}
	p.until("the list is reloaded", `document.querySelector('#items[data-state="ready"]') && !document.querySelector('#items tr[data-key="bob"]')`)

	openItem(p, "carol")
	n.put("users", "carol", `{"name":"Carol","plan":"changed"}`)
	p.click("#delete-item")
	p.click("#confirm-ok")
	p.waitText("#conflict", "not deleted")
	if c, ok := n.get("users", "carol"); !ok || plan(t, c.Value) != "changed" {
		t.Fatal("carol, changed underneath, was deleted")
	}
	p.until("the list is reloaded", `document.querySelector('#items[data-state="ready"]')`)

	// Bulk: a selection changed underneath deletes nothing.
	p.click(`#items tr[data-key="carol"] input.select`)
	p.click(`#items tr[data-key="dave"] input.select`)
	p.waitText("#delete-selected", "Delete selected (2)")
	n.put("users", "dave", `{"name":"Dave","plan":"changed"}`)
	p.click("#delete-selected")
	p.click("#confirm-ok")
	p.waitText("#banner", "nothing was deleted")
	if _, ok := n.get("users", "carol"); !ok {
		t.Fatal("a failed bulk delete deleted carol")
	}
	p.until("the list is reloaded", `document.querySelector('#items[data-state="ready"]') && document.querySelector("#delete-selected").disabled`)

	// Bulk: select all on the page.
	p.click("#select-all")
	p.waitText("#delete-selected", "Delete selected (4)")
	p.click("#delete-selected")
	p.click("#confirm-ok")
	p.waitText("#banner", "Deleted 4 items")
	for _, k := range []string{"alice", "carol", "dave", "erin"} {
		if _, ok := n.get("users", k); ok {
			t.Errorf("%s is still there after the bulk delete", k)
		}
	}
	p.waitText("#page-info", "no items")
}
