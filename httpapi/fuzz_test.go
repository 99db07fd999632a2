package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
)

// fuzzServer opens a DB with a plain store "s" and an index store
// "people" (last asc, age desc) for a fuzz target, and returns a function
// that serves one request in process.
func fuzzServer(f *testing.F) func(method, target string, body []byte) *httptest.ResponseRecorder {
	ctx := context.Background()
	db, err := sop.Open(ctx, sop.Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if _, err := db.CreateStore(ctx, "default", "s", nil); err != nil {
		f.Fatal(err)
	}
	if _, err := db.CreateStore(ctx, "default", "people", index.Spec{{Name: "last"}, {Name: "age", Desc: true}}); err != nil {
		f.Fatal(err)
	}
	srv, err := New(db, Options{MaxKeySize: 64, MaxValueSize: 1 << 10, MaxBodySize: 4 << 10})
	if err != nil {
		f.Fatal(err)
	}
	return func(method, target string, body []byte) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(method, target, bytes.NewReader(body)))
		return w
	}
}

// checkFuzzAnswer fails unless the answer is a success or a JSON error
// other than 500.
func checkFuzzAnswer(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if w.Code < 400 {
		return
	}
	var eb errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
		t.Fatalf("%s: %d %q is not a JSON error", what, w.Code, w.Body)
	}
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
}

// FuzzTxnBody: no txn body makes the server fail.
func FuzzTxnBody(f *testing.F) {
	serve := fuzzServer(f)
	for _, seed := range []string{
		`{"compare":[{"store":"s","key":"k","version":7},{"store":"s","key":"n","absent":true}],"success":[{"op":"put","store":"s","key":"k","value":{"x":1}},{"op":"delete","store":"s","key":"old"}],"failure":[]}`,
		`{"success":[{"op":"put","store":"people","value":{"last":"a","age":1}}]}`,
		`{"success":[{"op":"put","store":"people","key":["a",1],"value":{"last":"a","age":1}}]}`,
		`{"compare":[{"store":"people","key":["a"],"present":true}]}`,
		`{"txid":"x","success":[{"op":"delete","store":"s","key":"k"}]}`,
		`{"success":[{"op":"put","store":"s","key":"k","value":1e999}]}`,
		`{`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzzAnswer(t, serve("POST", "/v1/domains/default/txn", body), "txn "+string(body))
	})
}

// FuzzItem: no key (in a path) and value make a PUT, GET or scan fail,
// on a plain store or an index store.
func FuzzItem(f *testing.F) {
	serve := fuzzServer(f)
	f.Add("s", "k", []byte(`{"a":1}`))
	f.Add("people", `["a",1]`, []byte(`{"last":"a","age":1}`))
	f.Add("people", `["a",null]`, []byte(`{"last":"a"}`))
	f.Add("people", `[1e400,1]`, []byte(`{"last":1e400}`))
	f.Add("s", "\xff", []byte("\xff"))
	f.Fuzz(func(t *testing.T, store, key string, value []byte) {
		path := "/v1/domains/default/stores/" + esc(store) + "/items/" + esc(key)
		checkFuzzAnswer(t, serve("PUT", path, value), "PUT "+path)
		checkFuzzAnswer(t, serve("GET", path, nil), "GET "+path)
		scan := "/v1/domains/default/stores/" + esc(store) + "/items?prefix=" + esc(key) + "&start=" + esc(string(value))
		checkFuzzAnswer(t, serve("GET", scan, nil), "GET "+scan)
	})
}

// FuzzCursor: decoding never panics, and a cursor decodes only for the
// scope it was made for.
func FuzzCursor(f *testing.F) {
	scope := scanScope{domain: "default", store: "s", prefix: "a"}
	f.Add(cursor{last: []byte("a1")}.encode(scope), []byte("a1"), false)
	f.Add("AQ", []byte{}, true)
	f.Fuzz(func(t *testing.T, text string, last []byte, reverse bool) {
		if c, err := decodeCursor(text, scope); err == nil && c.encode(scope) != text {
			t.Fatalf("cursor %q decodes to %+v, which encodes to %q", text, c, c.encode(scope))
		}
		if len(last) == 0 {
			return
		}
		c := cursor{reverse: reverse, last: last}
		got, err := decodeCursor(c.encode(scope), scope)
		if err != nil || got.reverse != reverse || !bytes.Equal(got.last, last) {
			t.Fatalf("cursor %+v came back as %+v, %v", c, got, err)
		}
		other := scope
		other.prefix = "b"
		if _, err := decodeCursor(c.encode(scope), other); err == nil {
			t.Fatalf("cursor %+v decoded for another scope", c)
		}
	})
}
