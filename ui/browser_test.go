package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/sopd/sop"
	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

// The browser tests drive the UI in headless Chromium (Debian's chromium,
// which scripts/test-deps.sh installs) against a real node served in
// process. One browser serves every test, each test in its own tab. They
// skip when no chromium binary is found, unless SOP_REQUIRE_CHROMIUM is
// set. SOP_CHROMIUM names the binary to use.

// wait bounds every wait for the page; a test waits for elements and
// texts, never for a fixed time.
const wait = 20 * time.Second

var (
	browserOnce sync.Once
	browserCtx  context.Context // a chromedp context with a running browser
	browserErr  error
	stopBrowser = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// chromiumPath finds the browser binary; "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("SOP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser starts the shared browser once.
func startBrowser(path string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // containers often have no user namespaces; the pages are the tests' own
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		browserErr = fmt.Errorf("start %s: %w", path, err)
		return
	}
	browserCtx = ctx
	stopBrowser = func() {
		cancel()
		cancelAlloc()
	}
}

// page is one browser tab of a test.
type page struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	js  []string // uncaught exceptions of the page
}

// newPage opens a tab, or skips the test when there is no browser. The
// test fails when the page throws an uncaught exception.
func newPage(t *testing.T) *page {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("SOP_REQUIRE_CHROMIUM") != "" {
			t.Fatal("no chromium binary found and SOP_REQUIRE_CHROMIUM is set: install Debian's chromium (scripts/test-deps.sh does) or set SOP_CHROMIUM")
		}
		t.Skip("no chromium binary found: the browser tests skip (install Debian's chromium, as scripts/test-deps.sh does, or set SOP_CHROMIUM)")
	}
	browserOnce.Do(func() { startBrowser(path) })
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	p := &page{t: t}
	tab, cancel := chromedp.NewContext(browserCtx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			p.mu.Lock()
			p.js = append(p.js, exceptionText(e))
			p.mu.Unlock()
		}
	}))
	p.ctx = tab
	t.Cleanup(func() {
		cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.js {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}
	return p
}

func exceptionText(e *runtime.EventExceptionThrown) string {
	d := e.ExceptionDetails
	if d == nil {
		return "?"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber)
}

// do runs actions with a deadline; on failure it fails the test with what
// the page shows.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, p.text())
	}
}

// text is the page's visible text, for failure messages.
func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// open loads the UI at hash on the node.
func (p *page) open(n *node, hash string) {
	p.t.Helper()
	p.do("open "+hash, chromedp.Navigate(n.url+"/ui/"+hash))
}

// until waits until the JavaScript condition cond holds.
func (p *page) until(what, cond string) {
	p.t.Helper()
	p.do(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(wait)))
}

// waitText waits until the element sel exists and its text contains s.
func (p *page) waitText(sel, s string) {
	p.t.Helper()
	p.until(fmt.Sprintf("wait for %q in %s", s, sel),
		fmt.Sprintf(`(document.querySelector(%s)?.textContent || "").includes(%s)`, js(sel), js(s)))
}

// waitExact waits until the element sel exists and its text is s.
func (p *page) waitExact(sel, s string) {
	p.t.Helper()
	p.until(fmt.Sprintf("wait for %s to read %q", sel, s),
		fmt.Sprintf(`document.querySelector(%s)?.textContent === %s`, js(sel), js(s)))
}

// waitVisible waits until sel is visible.
func (p *page) waitVisible(sel string) {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// click clicks sel once it is visible.
func (p *page) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeIn types s into the field sel (key events, so input listeners run).
func (p *page) typeIn(sel, s string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), s))
}

// setValue sets the value of the field or select sel, firing input and
// change events.
func (p *page) setValue(sel, v string) {
	p.t.Helper()
	p.waitVisible(sel)
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, js(sel), js(v))
	if !eval[bool](p, expr) {
		p.t.Fatalf("set %s", sel)
	}
}

// count is the number of elements matching sel.
func (p *page) count(sel string) int {
	p.t.Helper()
	return eval[int](p, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(sel)))
}

// texts are the texts of the elements matching sel.
func (p *page) texts(sel string) []string {
	p.t.Helper()
	return eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll(%s)].map((e) => e.textContent)`, js(sel)))
}

// node is a real node (embedded NATS, in a temporary directory) served
// over HTTP with the UI mounted.
type node struct {
	t   *testing.T
	db  *sop.DB
	url string
	c   *client.Client // the API, as admin
}

// newNode starts a node; tokens is the text of a token file ("" for
// none), and adminToken the token its client uses.
func newNode(t *testing.T, tokens, adminToken string) *node {
	t.Helper()
	db, err := sop.Open(context.Background(), sop.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, db, tokens, adminToken)
}

// serveNode serves db's API, with the UI, until the test ends, and then
// closes db.
func serveNode(t *testing.T, db *sop.DB, tokens, adminToken string) *node {
	t.Helper()
	var opts httpapi.Options
	if tokens != "" {
		var err error
		if opts.Tokens, err = httpapi.ParseTokens(strings.NewReader(tokens), "tokens"); err != nil {
			t.Fatal(err)
		}
	}
	api, err := httpapi.New(db, opts)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	ts := httptest.NewServer(api)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		db.Close()
	})
	c, err := client.New(ts.URL, client.Options{Token: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, db: db, url: ts.URL, c: c}
}

// put writes value (JSON) at key of a plain store of domain default.
func (n *node) put(store, key, value string) uint64 {
	n.t.Helper()
	seq, err := n.c.Put(context.Background(), "default", store, client.StringKey(key), json.RawMessage(value))
	if err != nil {
		n.t.Fatalf("put %s/%s: %v", store, key, err)
	}
	return seq
}

// get reads key of a plain store; ok is false when it is absent.
func (n *node) get(store, key string) (client.Item, bool) {
	n.t.Helper()
	it, err := n.c.Get(context.Background(), "default", store, client.StringKey(key))
	if err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return it, false
		}
		n.t.Fatalf("get %s/%s: %v", store, key, err)
	}
	return it, true
}

// createStore creates a store of domain default with the given index
// fields ("name" or "name desc").
func (n *node) createStore(name string, fields ...string) {
	n.t.Helper()
	var idx []client.IndexField
	for _, f := range fields {
		name, order, _ := strings.Cut(f, " ")
		idx = append(idx, client.IndexField{Field: name, Order: order})
	}
	if _, err := n.c.CreateStore(context.Background(), "default", name, idx); err != nil {
		n.t.Fatalf("create store %s: %v", name, err)
	}
}

// evalVoid evaluates a JavaScript expression for its effect.
func evalVoid(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](expr)
}
