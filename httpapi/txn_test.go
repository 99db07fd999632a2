package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestTxn: the contract's example; the success branch when every compare
// holds, the failure branch otherwise, one seq either way.
func TestTxn(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("a", nil)
	kSeq := e.put("a", "k", `{"x":0}`)
	e.put("a", "old", `1`)
	body := fmt.Sprintf(`{"compare": [{"store":"a","key":"k","version":%d},
	                                  {"store":"a","key":"n","absent":true}],
	                      "success": [{"op":"put","store":"a","key":"k","value":{"x":1}},
	                                  {"op":"delete","store":"a","key":"old"}],
	                      "failure": []}`, kSeq)
	var ans txnAnswer
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", body).decode(t, &ans)
	if ans.Succeeded == nil || !*ans.Succeeded || ans.Seq <= kSeq {
		t.Fatalf("txn answered %+v", ans)
	}
	if it := e.get("a", "k"); string(it.Value) != `{"x":1}` || it.Version != ans.Seq {
		t.Errorf("k after the txn: %+v", it)
	}
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("a", "old"), nil)

	// The same compare now fails: the failure branch runs.
	body = fmt.Sprintf(`{"compare":[{"store":"a","key":"k","version":%d}],
	                     "success":[{"op":"put","store":"a","key":"k","value":"no"}],
	                     "failure":[{"op":"put","store":"a","key":"f","value":null}]}`, kSeq)
	var failed txnAnswer
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", body).decode(t, &failed)
	if failed.Succeeded == nil || *failed.Succeeded || failed.Seq <= ans.Seq {
		t.Fatalf("failing txn answered %+v", failed)
	}
	if it := e.get("a", "f"); string(it.Value) != "null" {
		t.Errorf("failure branch wrote %s, want null", it.Value)
	}
	if it := e.get("a", "k"); string(it.Value) != `{"x":1}` {
		t.Errorf("success branch ran anyway: k is %s", it.Value)
	}
	// present, and an empty failure branch: nothing commits, seq 0.
	var none txnAnswer
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", `{"compare":[{"store":"a","key":"zz","present":true}],"success":[{"op":"delete","store":"a","key":"k"}]}`).decode(t, &none)
	if none.Succeeded == nil || *none.Succeeded || none.Seq != 0 {
		t.Errorf("txn with nothing to do answered %+v", none)
	}
}

// TestTxnIndexKeys: txn keys of an index store are arrays; a put may
// leave its key to the document.
func TestTxnIndexKeys(t *testing.T) {
	e := newEnv(t, Options{})
	indexPeople(e)
	body := `{"compare":[{"store":"people","key":["Smith",42],"absent":true}],
	          "success":[{"op":"put","store":"people","key":["Smith",42],"value":{"last":"Smith","age":42}},
	                     {"op":"put","store":"people","value":{"last":"Lee","age":7}}]}`
	var ans txnAnswer
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", body).decode(t, &ans)
	if ans.Succeeded == nil || !*ans.Succeeded {
		t.Fatalf("answered %+v", ans)
	}
	if it := e.get("people", `["Lee",7]`); it.Version != ans.Seq {
		t.Errorf("document without key: %+v", it)
	}
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", `{"success":[{"op":"delete","store":"people","key":["Lee",7]}]}`)
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("people", `["Lee",7]`), nil)
	e.fails(http.StatusBadRequest, "key_mismatch", "POST", "/v1/domains/default/txn",
		`{"success":[{"op":"put","store":"people","key":["Smith",1],"value":{"last":"Smith","age":42}}]}`)
	e.fails(http.StatusBadRequest, "bad_key", "POST", "/v1/domains/default/txn",
		`{"success":[{"op":"delete","store":"people","key":"Smith"}]}`)
	e.fails(http.StatusBadRequest, "bad_index", "POST", "/v1/domains/default/txn",
		`{"success":[{"op":"put","store":"people","value":[1]}]}`)
}

// TestTxnIdempotent: txid (or Idempotency-Key) makes a retry answer the
// first seq with already_committed.
func TestTxnIdempotent(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("a", nil)
	body := `{"txid":"order-17","success":[{"op":"put","store":"a","key":"k","value":1}]}`
	var first, retry, header txnAnswer
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", body).decode(t, &first)
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", body).decode(t, &retry)
	if !retry.AlreadyCommitted || retry.Seq != first.Seq || retry.Succeeded != nil {
		t.Fatalf("retry answered %+v after %+v", retry, first)
	}
	noID := `{"success":[{"op":"put","store":"a","key":"k","value":1}]}`
	e.must(http.StatusOK, "POST", "/v1/domains/default/txn", noID, "Idempotency-Key", "order-17").decode(t, &header)
	if !header.AlreadyCommitted || header.Seq != first.Seq {
		t.Fatalf("retry by header answered %+v", header)
	}
	e.fails(http.StatusBadRequest, "bad_txn", "POST", "/v1/domains/default/txn", body, "Idempotency-Key", "order-18")
	e.fails(http.StatusBadRequest, "bad_txn", "POST", "/v1/domains/default/txn", `{"txid":"a b","success":[]}`)
}

// TestTxnErrors: malformed txn bodies.
func TestTxnErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("a", nil)
	p := "/v1/domains/default/txn"
	for _, c := range []struct{ code, body string }{
		{"bad_json", ``},
		{"bad_json", `{`},
		{"bad_json", `[]`},
		{"bad_json", `{"succes":[]}`},
		{"bad_json", `{"success":[{"op":"put","store":"a","key":"k","value":1,"extra":2}]}`},
		{"bad_json", `{"compare":[{"store":"a","key":"k","version":-1}]}`},
		{"bad_json", `{"compare":[{"store":"a","key":"k","version":"7"}]}`},
		{"bad_json", `{"success":{}}`},
		{"bad_json", `{} {}`},
		{"bad_json", `{"success":[]} x`},
		{"bad_txn", `{"success":[{"op":"get","store":"a","key":"k"}]}`},
		{"bad_txn", `{"success":[{"store":"a","key":"k","value":1}]}`},
		{"bad_txn", `{"success":[{"op":"put","store":"a","key":"k"}]}`},
		{"bad_txn", `{"success":[{"op":"delete","store":"a","key":"k","value":1}]}`},
		{"bad_txn", `{"compare":[{"store":"a","key":"k"}]}`},
		{"bad_txn", `{"compare":[{"store":"a","key":"k","version":3,"absent":true}]}`},
		{"bad_key", `{"success":[{"op":"put","store":"a","key":"","value":1}]}`},
		{"bad_key", `{"success":[{"op":"put","store":"a","value":1}]}`},
		{"bad_key", `{"success":[{"op":"put","store":"a","key":7,"value":1}]}`},
		{"bad_key", `{"success":[{"op":"put","store":"a","key":["x"],"value":1}]}`},
		{"bad_key", `{"compare":[{"store":"a","key":null,"absent":true}]}`},
		{"bad_name", `{"success":[{"op":"put","store":"","key":"k","value":1}]}`},
		{"store_not_found", `{"success":[{"op":"put","store":"nope","key":"k","value":1}]}`},
		{"store_not_found", `{"compare":[{"store":"nope","key":"k","absent":true}]}`},
		{"too_large", `{"success":[{"op":"put","store":"a","key":"` + strings.Repeat("k", 4097) + `","value":1}]}`},
	} {
		r := e.do("POST", p, c.body)
		if r.code() != c.code || r.status >= 500 {
			t.Errorf("txn %s: %d %s, want %s", clip([]byte(c.body)), r.status, r.body, c.code)
		}
	}
	e.fails(http.StatusNotFound, "domain_not_found", "POST", "/v1/domains/nope/txn", `{}`)
}
