package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics: /metrics serves every sop_ metric of the contract with the
// DB's values, request counts by route and code, and Go metrics.
func TestMetrics(t *testing.T) {
	e := newEnv(t, Options{})
	e.store("s", nil)
	seq := e.put("s", "k", `1`)
	e.fails(http.StatusNotFound, "key_not_found", "GET", itemPath("s", "nope"), nil)
	e.fails(http.StatusNotFound, "not_found", "GET", "/nope", nil)
	r := e.must(http.StatusOK, "GET", "/metrics", nil)
	text := string(r.body)
	for _, want := range []string{
		`sop_commits_total{domain="default"} 2`,
		`sop_commit_groups_total{domain="default"} 2`, // one at a time: two groups
		`sop_applied_seq{domain="default"} ` + strconv.FormatUint(seq, 10),
		`sop_journal_last_seq{domain="default"} ` + strconv.FormatUint(seq, 10),
		`sop_replay_lag_entries{domain="default"} 0`,
		`sop_snapshot_last_seq{domain="default"} 0`,
		"sop_failover_count 0",
		"sop_watchers 0",
		"sop_commit_latency_seconds_count 2",
		`sop_http_requests_total{code="200",route="PUT /v1/domains/{d}/stores/{s}/items/{key}"} 1`,
		`sop_http_requests_total{code="201",route="PUT /v1/domains/{d}/stores/{s}"} 1`,
		`sop_http_requests_total{code="404",route="GET /v1/domains/{d}/stores/{s}/items/{key}"} 1`,
		`sop_http_requests_total{code="404",route="unmatched"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !hasLine(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestMetricsRegistry: a given registry receives the metrics (Go and
// process collectors already there are kept), and a second server on the
// same registry is refused.
func TestMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, Options{Registry: reg})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, n := range []string{"sop_applied_seq", "sop_watchers", "go_goroutines"} {
		if !names[n] {
			t.Errorf("registry lacks %s", n)
		}
	}
	if _, err := New(e.db, Options{Registry: reg}); err == nil {
		t.Error("a second server registered on the same registry")
	}
}

// hasLine reports whether text has the line want, or, when want ends in
// a space, a line starting with it.
func hasLine(text, want string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		if line == want || strings.HasSuffix(want, " ") && strings.HasPrefix(line, want) {
			return true
		}
	}
	return false
}
