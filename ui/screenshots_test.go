package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sopd/sop/client"
)

// TestScreenshots takes the PNG screenshots of the main screens that the
// README shows, into the directory SOP_UI_SCREENSHOTS names:
//
//	SOP_UI_SCREENSHOTS=docs/ui go test ./ui -run Screenshots
//
// A relative DIR is taken from the module's root. Without the variable it
// skips.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SOP_UI_SCREENSHOTS")
	if dir == "" {
		t.Skip("set SOP_UI_SCREENSHOTS=DIR to write the screenshots of the main screens to DIR")
	}
	if !filepath.IsAbs(dir) {
		// go test runs in the package's directory: a relative path is taken
		// from the module's root, as in the command above.
		dir = filepath.Join("..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, "", "")
	sampleData(t, n)
	p := newPage(t)
	p.do("viewport", chromedp.EmulateViewport(1280, 760))
	shot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(p.ctx, wait)
		defer cancel()
		p.do("settle", evalVoid(`document.activeElement && document.activeElement.blur()`))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p.open(n, "#/d/default/stores")
	p.waitText("#stores", "people")
	p.typeIn("#store-name", "orders")
	p.click("#add-field")
	p.typeIn(".index-field:nth-child(1) .field-name", "customer")
	p.click("#add-field")
	p.typeIn(".index-field:nth-child(2) .field-name", "placed")
	p.setValue(".index-field:nth-child(2) .field-order", "desc")
	shot("stores.png")

	p.open(n, "#/d/default/s/people")
	p.waitText("#page-info", "Page 1")
	p.setValue(`.key-field[data-field="last"]`, "Smith")
	p.click("#search-btn")
	p.waitText("#page-info", "(last page)")
	openItem(p, `["Smith",42]`)
	shot("browse.png")

	p.click("#edit-item")
	p.setValue("#edit-value", "{\n  \"last\": \"Smith\",\n  \"age\": 42,\n  \"first\": \"Ann\",\n  \"city\": \"Leeds\"\n}")
	if _, err := n.c.Put(context.Background(), "default", "people", client.IndexKey("Smith", 42),
		json.RawMessage(`{"last":"Smith","age":42,"first":"Ann","city":"Bath"}`)); err != nil {
		t.Fatal(err)
	}
	p.click("#save-item")
	p.waitVisible("#conflict")
	p.do("show the conflict", evalVoid(`document.querySelector("#conflict").scrollIntoView({block: "end"})`))
	shot("conflict.png")

	p.open(n, "#/d/default/watch")
	p.waitText("#watch-store", "people")
	p.click("#watch-start")
	p.until("listening", `document.querySelector('#watch-status[data-state="listening"]')`)
	for i := range 6 {
		n.put("users", fmt.Sprintf("user%02d", i), fmt.Sprintf(`{"name":"User %d","visits":%d}`, i, i*3))
	}
	p.waitText("#event-count", "6 events")
	shot("stream.png")

	p.open(n, "#/d/default/journal")
	p.waitVisible("#journal")
	shot("journal.png")

	p.open(n, "#/status")
	p.waitText("#readyz", "ready")
	shot("status.png")
}

// sampleData fills a node with the stores the screenshots show.
func sampleData(t *testing.T, n *node) {
	n.createStore("people", "last", "age desc")
	n.createStore("users")
	first := []string{"Ann", "Bob", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana"}
	last := []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Smith", "Evans"}
	var ops []client.Op
	for i := range 40 {
		doc := fmt.Sprintf(`{"last":%q,"age":%d,"first":%q,"city":"York"}`, last[i%len(last)], 20+(i*7)%50, first[i%len(first)])
		ops = append(ops, client.Op{Op: "put", Store: "people", Value: json.RawMessage(doc)})
	}
	ops = append(ops, client.Op{Op: "put", Store: "people", Value: json.RawMessage(`{"last":"Smith","age":42,"first":"Ann","city":"York"}`)})
	if _, err := n.c.Txn(context.Background(), "default", client.TxnRequest{Success: ops}); err != nil {
		t.Fatal(err)
	}
	for i, name := range first {
		n.put("users", name, fmt.Sprintf(`{"name":%q,"plan":"pro","since":%d}`, name, 2019+i%5))
	}
	if _, err := n.c.TakeSnapshot(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
}
