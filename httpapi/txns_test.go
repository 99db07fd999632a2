package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestTxns: a batch's transactions commit or fail each on its own, as
// they would alone, with their answers in order: committed, a failed
// compare, a refused transaction, a retried txid, a conflict-free write
// to another store. Bad batches are refused as a whole.
func TestTxns(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("a", nil)
	kSeq := e.put("a", "k", `1`)
	body := fmt.Sprintf(`{"txns":[
		{"success":[{"op":"put","store":"a","key":"x","value":1}]},
		{"compare":[{"store":"a","key":"k","version":%d}],"success":[{"op":"put","store":"a","key":"k","value":2}]},
		{"compare":[{"store":"a","key":"k","absent":true}],"success":[{"op":"put","store":"a","key":"k","value":3}]},
		{"success":[{"op":"put","store":"nope","key":"y","value":1}]},
		{"txid":"t-1","success":[{"op":"put","store":"a","key":"y","value":1}]},
		{"success":[{"op":"delete","store":"a","key":"zz"}]},
		{"sucess":[]},
		[1]]}`, kSeq)
	var ans struct{ Results []txnsResult }
	e.must(http.StatusOK, "POST", "/v1/domains/default/txns", body).decode(t, &ans)
	if len(ans.Results) != 8 {
		t.Fatalf("%d results for 8 transactions: %+v", len(ans.Results), ans.Results)
	}
	r := ans.Results
	ok := func(i int, succeeded bool) {
		t.Helper()
		if r[i].Succeeded == nil || *r[i].Succeeded != succeeded || r[i].Error != "" || r[i].Status != 0 {
			t.Errorf("txns[%d]: %+v, want succeeded=%v", i, r[i], succeeded)
		}
	}
	ok(0, true)
	ok(1, true)
	ok(2, false)
	ok(4, true)
	ok(5, true)
	if r[3].Status != http.StatusNotFound || r[3].Error != "store_not_found" || !strings.Contains(r[3].Message, "txns[3]") || r[3].Succeeded != nil {
		t.Errorf("txns[3] into a missing store: %+v", r[3])
	}
	for _, i := range []int{6, 7} {
		if r[i].Status != http.StatusBadRequest || r[i].Error != "bad_json" {
			t.Errorf("txns[%d], not a txn body: %+v", i, r[i])
		}
	}
	if r[2].Seq != 0 {
		t.Errorf("a failed compare with no failure branch has seq %d, want 0", r[2].Seq)
	}
	for i, want := range map[int]string{0: "x", 1: "k", 4: "y"} {
		if it := e.get("a", want); it.Version != r[i].Seq {
			t.Errorf("txns[%d] answered seq %d, but %s is at version %d", i, r[i].Seq, want, it.Version)
		}
	}
	if it := e.get("a", "k"); string(it.Value) != "2" {
		t.Errorf("k is %s: the failed compare wrote", it.Value)
	}

	// A retried txid is answered as committed, in a batch as alone.
	e.must(http.StatusOK, "POST", "/v1/domains/default/txns", `{"txns":[{"txid":"t-1","success":[{"op":"put","store":"a","key":"y","value":9}]}]}`).decode(t, &ans)
	if len(ans.Results) != 1 || !ans.Results[0].AlreadyCommitted || ans.Results[0].Seq != r[4].Seq {
		t.Errorf("retried txid: %+v, want already committed at %d", ans.Results, r[4].Seq)
	}

	many := `{"txns":[` + strings.Repeat(`{"success":[]},`, maxTxns) + `{"success":[]}]}`
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"txns":[]}`, "bad_txn", 400},
		{`{}`, "bad_txn", 400},
		{many, "bad_txn", 400},
		{`{"txns":{}}`, "bad_json", 400},
		{`{"txns":[{},]}`, "bad_json", 400},
		{`{"txns":[],"x":1}`, "bad_json", 400},
		{`[`, "bad_json", 400},
	} {
		e.fails(tc.status, tc.code, "POST", "/v1/domains/default/txns", tc.body)
	}
	e.fails(http.StatusNotFound, "domain_not_found", "POST", "/v1/domains/nope/txns", `{"txns":[{"success":[]}]}`)
	e.fails(http.StatusBadRequest, "bad_txn", "POST", "/v1/domains/default/txns", `{"txns":[{"success":[]}]}`, "Idempotency-Key", "x")
}
