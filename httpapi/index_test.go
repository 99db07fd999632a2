package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// indexPeople creates store people indexed by last (asc) and age (desc).
func indexPeople(e *env) {
	e.store("people", []map[string]string{{"field": "last"}, {"field": "age", "order": "desc"}})
}

// TestIndexRoundTrip: documents written under their array key, POSTed,
// read back by array key, and rejected when the key does not match.
func TestIndexRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})
	indexPeople(e)
	doc := `{"last":"Smith","age":42,"first":"Ann"}`
	seq := e.put("people", `["Smith",42]`, doc)
	it := e.get("people", `["Smith",42]`)
	if string(it.Key) != `["Smith",42]` || string(it.Value) != doc || it.Version != seq {
		t.Fatalf("got %+v", it)
	}
	// The path key is JSON: white space and number spelling do not matter.
	if got := e.get("people", `[ "Smith" , 42.0 ]`); string(got.Value) != doc {
		t.Errorf("equivalent key read %s", got.Value)
	}
	// The literal path form from the docs.
	e.must(http.StatusOK, "GET", "/v1/domains/default/stores/people/items/%5B%22Smith%22%2C42%5D", nil)

	e.fails(http.StatusBadRequest, "key_mismatch", "PUT", itemPath("people", `["Smith",41]`), doc)
	e.fails(http.StatusBadRequest, "key_mismatch", "PUT", itemPath("people", `["Smith",42]`), `[1,2]`)
	e.fails(http.StatusBadRequest, "key_mismatch", "PUT", itemPath("people", `["Smith",42]`), `{"last":{"x":1},"age":42}`)
	e.fails(http.StatusBadRequest, "bad_json", "PUT", itemPath("people", `["Smith",42]`), `{"last":`)
	e.fails(http.StatusBadRequest, "bad_key", "PUT", itemPath("people", `Smith`), doc)
	e.fails(http.StatusBadRequest, "bad_key", "GET", itemPath("people", `["Smith"]`), nil)
	e.fails(http.StatusBadRequest, "bad_key", "GET", itemPath("people", `["Smith",42,1]`), nil)
	e.fails(http.StatusBadRequest, "bad_key", "GET", itemPath("people", `["Smith",{"a":1}]`), nil)
	e.fails(http.StatusBadRequest, "bad_key", "GET", itemPath("people", `["Smith",42] x`), nil)
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("people", `["Smith",43]`), nil)

	// POST computes the key; a missing field is null.
	var posted struct {
		Seq uint64
		Key json.RawMessage
	}
	e.must(http.StatusOK, "POST", "/v1/domains/default/stores/people/items", `{"last":"Jones","first":"Bob"}`).decode(t, &posted)
	if string(posted.Key) != `["Jones",null]` || posted.Seq <= seq {
		t.Errorf("POST answered %+v", posted)
	}
	if got := e.get("people", `["Jones",null]`); got.Version != posted.Seq {
		t.Errorf("posted item read %+v", got)
	}
	e.fails(http.StatusConflict, "condition_failed", "POST", "/v1/domains/default/stores/people/items?if_absent=true", `{"last":"Jones"}`)
	e.fails(http.StatusBadRequest, "bad_index", "POST", "/v1/domains/default/stores/people/items", `"not an object"`)
	e.fails(http.StatusBadRequest, "bad_json", "POST", "/v1/domains/default/stores/people/items", `{`)
	e.store("plain", nil)
	e.fails(http.StatusBadRequest, "bad_index", "POST", "/v1/domains/default/stores/plain/items", `{"a":1}`)

	e.must(http.StatusOK, "DELETE", itemPath("people", `["Smith",42]`), nil)
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("people", `["Smith",42]`), nil)
}

// TestIndexScan: scans order by the index (age descending within last)
// and take prefix, start and end as arrays of leading fields.
func TestIndexScan(t *testing.T) {
	e := newEnv(t, Options{})
	indexPeople(e)
	docs := []string{
		`{"last":"Brown","age":30}`, `{"last":"Smith","age":20}`, `{"last":"Smith","age":50}`,
		`{"last":"Smith","age":35}`, `{"last":"Adams","age":99}`, `{"last":"Young","age":1}`,
	}
	for _, d := range docs {
		e.must(http.StatusOK, "POST", "/v1/domains/default/stores/people/items", d)
	}
	scan := func(query string) []string {
		t.Helper()
		var page struct{ Items []item }
		e.must(http.StatusOK, "GET", "/v1/domains/default/stores/people/items?"+query, nil).decode(t, &page)
		var keys []string
		for _, it := range page.Items {
			keys = append(keys, string(it.Key))
		}
		return keys
	}
	check := func(query string, want ...string) {
		t.Helper()
		got := scan(query)
		if len(got) != len(want) {
			t.Fatalf("scan %s: %v, want %v", query, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("scan %s: %v, want %v", query, got, want)
			}
		}
	}
	q := url.QueryEscape
	check("", `["Adams",99]`, `["Brown",30]`, `["Smith",50]`, `["Smith",35]`, `["Smith",20]`, `["Young",1]`)
	check("prefix="+q(`["Smith"]`), `["Smith",50]`, `["Smith",35]`, `["Smith",20]`)
	check("prefix="+q(`["Smith"]`)+"&reverse=true", `["Smith",20]`, `["Smith",35]`, `["Smith",50]`)
	check("prefix="+q(`["Smith",35]`), `["Smith",35]`)
	check("start="+q(`["Brown"]`)+"&end="+q(`["Smith"]`), `["Brown",30]`)
	check("start="+q(`["Smith",35]`)+"&end="+q(`["Young"]`), `["Smith",35]`, `["Smith",20]`)
	check("prefix="+q(`[]`)+"&limit=2", `["Adams",99]`, `["Brown",30]`)
	for _, bad := range []string{"prefix=Smith", "start=" + q(`["a",1,2]`), "end=" + q(`[{}]`), "prefix=" + q(`"Smith"`)} {
		e.fails(http.StatusBadRequest, "bad_key", "GET", "/v1/domains/default/stores/people/items?"+bad, nil)
	}
}
