package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/sopd/sop/client"
)

// TestUIStoreWithIndex: a store created in the UI's index editor (two
// fields, the second descending, reordered once) has that specification;
// documents added in the UI get the keys their fields give; 250 items page
// forwards and backwards through cursors; a compound-key search finds one
// person and a one-field search all of a family.
func TestUIStoreWithIndex(t *testing.T) {
	n := newNode(t, "", "")
	p := newPage(t)
	p.open(n, "#/d/default/stores")
	p.waitText("#stores", "No stores yet")

	p.typeIn("#store-name", "people")
	p.click("#add-field")
	p.click("#add-field")
	p.typeIn(".index-field:nth-child(1) .field-name", "age")
	p.typeIn(".index-field:nth-child(2) .field-name", "last")
	p.setValue(".index-field:nth-child(1) .field-order", "desc")
	p.click(".index-field:nth-child(2) .up") // last first, then age
	p.click("#create-store")
	p.waitText("#stores", "people")
	p.waitText(`#stores tr[data-store="people"] .spec`, "last ↑, age ↓")
	stores, err := n.c.Stores(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	want := []client.IndexField{{Field: "last", Order: "asc"}, {Field: "age", Order: "desc"}}
	if len(stores) != 1 || !sameSpec(stores[0].Index, want) {
		t.Fatalf("stores after create: %+v, want people indexed by %+v", stores, want)
	}

	// Two documents through the UI.
	p.click(`#stores tr[data-store="people"] a.store-link`)
	p.waitText("#page-info", "no items")
	for _, doc := range []string{`{"last":"Smith","age":42,"first":"Ann"}`, `{"last":"Smith","age":7,"first":"Bob"}`} {
		p.click("#add-item")
		p.setValue("#new-value", doc)
		p.click("#save-new")
		p.waitVisible("#added")
	}
	p.waitText("#item-key", `["Smith",7]`)
	if _, err := n.c.Get(context.Background(), "default", "people", client.IndexKey("Smith", 42)); err != nil {
		t.Fatalf("the document added in the UI: %v", err)
	}

	// 248 more through the API: 250 in all.
	ops := make([]client.Op, 0, 248)
	for i := range 248 {
		doc := fmt.Sprintf(`{"last":"P%03d","age":%d}`, i, i%90)
		ops = append(ops, client.Op{Op: "put", Store: "people", Value: json.RawMessage(doc)})
	}
	if _, err := n.c.Txn(context.Background(), "default", client.TxnRequest{Success: ops}); err != nil {
		t.Fatal(err)
	}
	p.click("#search-btn")
	p.waitText("#page-info", "Page 1 · items 1–50")
	first := p.texts("#items td.key")[0]
	for page := 2; page <= 5; page++ {
		p.click("#next")
		p.waitText("#page-info", fmt.Sprintf("Page %d · items %d–%d", page, (page-1)*50+1, page*50))
	}
	p.waitText("#page-info", "(last page)")
	if keys := p.texts("#items td.key"); keys[len(keys)-1] != `["Smith",7]` {
		t.Errorf("last key of the last page: %s, want [\"Smith\",7]", keys[len(keys)-1])
	}
	if !eval[bool](p, `document.querySelector("#next").disabled`) {
		t.Error("Next is enabled on the last page")
	}
	for page := 4; page >= 1; page-- {
		p.click("#prev")
		p.waitText("#page-info", fmt.Sprintf("Page %d · items %d–%d", page, (page-1)*50+1, page*50))
	}
	if got := p.texts("#items td.key")[0]; got != first {
		t.Errorf("back on page 1 the first key is %s, was %s", got, first)
	}

	// Search by the compound key.
	p.setValue(`.key-field[data-field="last"]`, "Smith")
	p.setValue(`.key-field[data-field="age"]`, "42")
	p.click("#search-btn")
	p.waitText("#page-info", "items 1–1 (last page)")
	if keys := p.texts("#items td.key"); !slices.Equal(keys, []string{`["Smith",42]`}) {
		t.Errorf("search last=Smith age=42: keys %q", keys)
	}
	p.setValue(`.key-field[data-field="age"]`, "")
	p.click("#search-btn")
	p.waitText("#page-info", "items 1–2 (last page)")
	if keys := p.texts("#items td.key"); !slices.Equal(keys, []string{`["Smith",42]`, `["Smith",7]`}) {
		t.Errorf("search last=Smith: keys %q (age descending)", keys)
	}
}

func sameSpec(got, want []client.IndexField) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		o := got[i].Order
		if o == "" {
			o = "asc"
		}
		if got[i].Field != want[i].Field || o != want[i].Order {
			return false
		}
	}
	return true
}

// TestUIDomainAndDrop: a domain created in the UI becomes the current
// one; a plain store created there is dropped only once its name is typed
// into the confirmation.
func TestUIDomainAndDrop(t *testing.T) {
	n := newNode(t, "", "")
	p := newPage(t)
	p.open(n, "#/domains")
	p.waitText("#domains", "default")
	p.typeIn("#new-domain", "orders")
	p.click("#create-domain")
	p.waitText("#main h1", "in orders")
	p.waitText("#domain-select", "orders")

	p.typeIn("#store-name", "tmp")
	p.click("#create-store")
	p.waitText(`#stores tr[data-store="tmp"] .spec`, "plain")
	p.click(`#stores tr[data-store="tmp"] .drop-store`)
	p.waitVisible("#confirm-dialog")
	if !eval[bool](p, `document.querySelector("#confirm-ok").disabled`) {
		t.Fatal("the drop is confirmable before the store's name is typed")
	}
	p.typeIn("#confirm-text", "tm")
	if !eval[bool](p, `document.querySelector("#confirm-ok").disabled`) {
		t.Fatal("the drop is confirmable with a wrong name")
	}
	p.typeIn("#confirm-text", "p")
	p.click("#confirm-ok")
	p.waitText("#banner", "Dropped store tmp")
	p.waitText("#stores", "No stores yet")
	stores, err := n.c.Stores(context.Background(), "orders")
	if err != nil || len(stores) != 0 {
		t.Fatalf("stores of orders after the drop: %v, %v", stores, err)
	}
}
