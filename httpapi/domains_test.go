package httpapi

import (
	"encoding/hex"
	"net/http"
	"testing"
)

// TestDomains: PUT creates (201) and is idempotent (200); GET lists.
func TestDomains(t *testing.T) {
	e := newEnv(t, Options{})
	var got nameJSON
	e.must(http.StatusCreated, "PUT", "/v1/domains/orders", nil).decode(t, &got)
	if got.Name != "orders" {
		t.Errorf("created %+v", got)
	}
	e.must(http.StatusOK, "PUT", "/v1/domains/orders", nil)
	e.must(http.StatusOK, "PUT", "/v1/domains/default", nil)
	var list struct{ Domains []nameJSON }
	e.must(http.StatusOK, "GET", "/v1/domains", nil).decode(t, &list)
	if len(list.Domains) != 2 || list.Domains[0].Name != "default" || list.Domains[1].Name != "orders" {
		t.Errorf("domains %+v, want default and orders", list.Domains)
	}
	e.fails(http.StatusBadRequest, "bad_name", "PUT", "/v1/domains/has.dot", nil)
	e.fails(http.StatusBadRequest, "bad_name", "GET", "/v1/domains/has%20space/stores", nil)
	e.fails(http.StatusNotFound, "domain_not_found", "GET", "/v1/domains/nope/stores", nil)
	// A store in the new domain is separate from default's.
	e.must(http.StatusCreated, "PUT", "/v1/domains/orders/stores/s", nil)
	e.must(http.StatusOK, "PUT", "/v1/domains/orders/stores/s/items/k", `1`)
	e.fails(http.StatusNotFound, "store_not_found", "GET", "/v1/domains/default/stores/s/items/k", nil)
}

// TestStores: create (plain and indexed), idempotent re-create, another
// definition is 409, list with counts, drop.
func TestStores(t *testing.T) {
	e := newEnv(t, Options{})
	var created storeJSON
	e.must(http.StatusCreated, "PUT", "/v1/domains/default/stores/plain", nil).decode(t, &created)
	if created.Name != "plain" || created.Index != nil {
		t.Errorf("created %+v", created)
	}
	e.must(http.StatusOK, "PUT", "/v1/domains/default/stores/plain", "")
	e.must(http.StatusOK, "PUT", "/v1/domains/default/stores/plain", `{}`)
	idx := `{"index":[{"field":"last"},{"field":"age","order":"desc"}]}`
	e.must(http.StatusCreated, "PUT", "/v1/domains/default/stores/people", idx).decode(t, &created)
	if len(created.Index) != 2 || created.Index[0] != (fieldJSON{"last", "asc"}) || created.Index[1] != (fieldJSON{"age", "desc"}) {
		t.Errorf("created %+v", created)
	}
	e.must(http.StatusOK, "PUT", "/v1/domains/default/stores/people", idx)
	e.fails(http.StatusConflict, "store_exists", "PUT", "/v1/domains/default/stores/people", `{"index":[{"field":"last"}]}`)
	e.fails(http.StatusConflict, "store_exists", "PUT", "/v1/domains/default/stores/people", nil)
	e.fails(http.StatusConflict, "store_exists", "PUT", "/v1/domains/default/stores/plain", idx)
	e.fails(http.StatusBadRequest, "bad_index", "PUT", "/v1/domains/default/stores/x", `{"index":[{"field":"a","order":"up"}]}`)
	e.fails(http.StatusBadRequest, "bad_index", "PUT", "/v1/domains/default/stores/x", `{"index":[]}`)
	e.fails(http.StatusBadRequest, "bad_index", "PUT", "/v1/domains/default/stores/x", `{"index":[{"field":""}]}`)
	e.fails(http.StatusBadRequest, "bad_index", "PUT", "/v1/domains/default/stores/x", `{"index":[{"field":"a"},{"field":"a"}]}`)
	e.fails(http.StatusBadRequest, "bad_json", "PUT", "/v1/domains/default/stores/x", `{"indexes":[]}`)
	e.fails(http.StatusBadRequest, "bad_name", "PUT", "/v1/domains/default/stores/%01", nil)

	e.put("plain", "a", `1`)
	e.put("plain", "b", `2`)
	var list struct {
		Stores []storeJSON
		Seq    uint64
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores", nil).decode(t, &list)
	if len(list.Stores) != 2 || list.Stores[0].Name != "people" || list.Stores[1].Name != "plain" || list.Seq == 0 {
		t.Fatalf("stores %+v", list)
	}
	if c := list.Stores[1].Count; c == nil || *c != 2 || list.Stores[1].Index != nil {
		t.Errorf("plain store listed as %+v", list.Stores[1])
	}
	if c := list.Stores[0].Count; c == nil || *c != 0 || len(list.Stores[0].Index) != 2 {
		t.Errorf("people store listed as %+v", list.Stores[0])
	}

	var dropped writeAnswer
	e.must(http.StatusOK, "DELETE", "/v1/domains/default/stores/plain", nil).decode(t, &dropped)
	if dropped.Seq <= list.Seq {
		t.Errorf("drop seq %d, want > %d", dropped.Seq, list.Seq)
	}
	e.fails(http.StatusNotFound, "store_not_found", "GET", itemPath("plain", "a"), nil)
	e.fails(http.StatusNotFound, "store_not_found", "DELETE", "/v1/domains/default/stores/plain", nil)
	// Re-created, it is empty.
	e.store("plain", nil)
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("plain", "a"), nil)
}

// TestHashAndStatus: the hash moves with writes and matches the Go API;
// status names the node and each domain's seqs.
func TestHashAndStatus(t *testing.T) {
	e := newEnv(t, Options{Version: "v1.2.3"})
	e.store("s", nil)
	var h1, h2 struct {
		Seq  uint64
		Hash string
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/hash", nil).decode(t, &h1)
	seq := e.put("s", "k", `1`)
	e.must(http.StatusOK, "GET", "/v1/domains/default/hash", nil).decode(t, &h2)
	if h2.Seq != seq || h1.Hash == h2.Hash || len(h2.Hash) != 64 {
		t.Errorf("hash %+v then %+v around seq %d", h1, h2, seq)
	}
	dbSeq, sum, err := e.db.Hash("default")
	if err != nil || dbSeq != h2.Seq || hex.EncodeToString(sum) != h2.Hash {
		t.Errorf("Go API hash %d %x %v, HTTP %+v", dbSeq, sum, err, h2)
	}
	e.fails(http.StatusNotFound, "domain_not_found", "GET", "/v1/domains/nope/hash", nil)

	var st struct {
		Node    string
		Version string
		Domains []domainStatusJSON
	}
	e.must(http.StatusOK, "GET", "/v1/status", nil).decode(t, &st)
	if st.Node != e.db.Node() || st.Version != "v1.2.3" || len(st.Domains) != 1 {
		t.Fatalf("status %+v", st)
	}
	d := st.Domains[0]
	if d.Name != "default" || d.Role != "leader" || d.AppliedSeq != seq || d.JournalLastSeq != seq || d.JournalFirstSeq != 1 {
		t.Errorf("domain status %+v, want default leader at seq %d", d, seq)
	}
}

// TestHealth: /healthz and /readyz answer 200 on a serving node; after
// the DB closes /readyz is 503 with Retry-After and writes are 503
// unavailable.
func TestHealth(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	e.must(http.StatusOK, "GET", "/healthz", nil)
	e.must(http.StatusOK, "GET", "/readyz", nil)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, "GET", "/healthz", nil)
	r := e.fails(http.StatusServiceUnavailable, "unavailable", "GET", "/readyz", nil)
	if r.header.Get("Retry-After") == "" {
		t.Error("readyz 503 without Retry-After")
	}
	r = e.fails(http.StatusServiceUnavailable, "unavailable", "PUT", itemPath("s", "k"), `1`)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("unavailable with Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	e.fails(http.StatusServiceUnavailable, "unavailable", "GET", itemPath("s", "k"), nil)
}

// TestSnapshotsNotBuilt: the snapshot routes answer 501 for now.
func TestSnapshots(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	e.put("s", "k", `1`)
	var list struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/snapshots", nil).decode(t, &list)
	if len(list.Snapshots) != 0 {
		t.Fatalf("snapshots of a new node: %+v", list)
	}
	var taken snapshotJSON
	e.must(http.StatusOK, "POST", "/v1/domains/default/snapshots", nil).decode(t, &taken)
	if taken.Seq != 2 || taken.ID == "" || taken.Bytes == 0 || taken.Created.IsZero() {
		t.Fatalf("snapshot taken: %+v", taken)
	}
	e.must(http.StatusOK, "GET", "/v1/domains/default/snapshots", nil).decode(t, &list)
	if len(list.Snapshots) != 1 || list.Snapshots[0] != taken {
		t.Fatalf("snapshots listed: %+v, want [%+v]", list, taken)
	}
	e.fails(http.StatusNotFound, "domain_not_found", "GET", "/v1/domains/nope/snapshots", nil)
	e.fails(http.StatusNotFound, "domain_not_found", "POST", "/v1/domains/nope/snapshots", nil)
	e.fails(http.StatusBadRequest, "bad_param", "POST", "/v1/domains/default/snapshots?x=1", nil)
}
