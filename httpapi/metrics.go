package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sopd/sop"
)

// statusTimeout bounds the db.Status call of one scrape.
const statusTimeout = 5 * time.Second

// metrics are the server's Prometheus metrics. The domain gauges and the
// commit counter are read from db.Status at scrape time (dbCollector);
// the rest are kept here.
type metrics struct {
	registry      *prometheus.Registry
	handler       http.Handler
	commitLatency prometheus.Histogram
	watchers      prometheus.Gauge
	requests      *prometheus.CounterVec
}

// newMetrics registers the server's metrics, and Go and process
// collectors unless the registry has them already.
func newMetrics(db *sop.DB, reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		registry: reg,
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sop_commit_latency_seconds",
			Help:    "Time the HTTP API waited for each write it committed (items, txn, stores, domains).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
		}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sop_watchers",
			Help: "Open change streams (GET /v1/domains/{d}/watch).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sop_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	for _, c := range []prometheus.Collector{m.commitLatency, m.watchers, m.requests, newDBCollector(db)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		var exists prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &exists) {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m, nil
}

// timeCommit starts timing a commit; call the result when it is done.
func (m *metrics) timeCommit() func() {
	start := time.Now()
	return func() { m.commitLatency.Observe(time.Since(start).Seconds()) }
}

// countRequest counts an answered request.
func (m *metrics) countRequest(route string, w *recorder) {
	status := w.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// serveMetrics answers GET /metrics in the Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// dbCollector reads the DB's status at each scrape.
type dbCollector struct {
	db                                  *sop.DB
	commits, groups, applied, last, lag *prometheus.Desc
	snapshotSeq, failovers              *prometheus.Desc
}

var _ prometheus.Collector = (*dbCollector)(nil)

func newDBCollector(db *sop.DB) *dbCollector {
	domain := []string{"domain"}
	return &dbCollector{
		db:          db,
		commits:     prometheus.NewDesc("sop_commits_total", "Transactions this node committed to the domain since it opened.", domain, nil),
		groups:      prometheus.NewDesc("sop_commit_groups_total", "Group appends that committed this node's transactions to the domain (sop_commits_total / this: the mean group size).", domain, nil),
		applied:     prometheus.NewDesc("sop_applied_seq", "The last journal seq this node applied to the domain.", domain, nil),
		last:        prometheus.NewDesc("sop_journal_last_seq", "The domain journal's last seq.", domain, nil),
		lag:         prometheus.NewDesc("sop_replay_lag_entries", "Journal entries this node has not applied yet (journal last - applied).", domain, nil),
		snapshotSeq: prometheus.NewDesc("sop_snapshot_last_seq", "Seq of the domain's newest snapshot this node knows of (0: none).", domain, nil),
		failovers:   prometheus.NewDesc("sop_failover_count", "Storage failovers this node began (a permanent I/O error on its data volume; see the [Failover] log lines).", nil, nil),
	}
}

// Describe sends every metric's description.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.commits, c.groups, c.applied, c.last, c.lag, c.snapshotSeq, c.failovers} {
		ch <- d
	}
}

// Collect reads db.Status; when that fails, the domain metrics are
// missing from the scrape (its error shows in the answer).
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.failovers, prometheus.CounterValue, float64(c.db.Failovers()))
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st, err := c.db.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.applied, err)
		return
	}
	for _, d := range st {
		lag := float64(0)
		if d.JournalLast > d.Applied {
			lag = float64(d.JournalLast - d.Applied)
		}
		ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(d.Commits), d.Name)
		ch <- prometheus.MustNewConstMetric(c.groups, prometheus.CounterValue, float64(d.Groups), d.Name)
		ch <- prometheus.MustNewConstMetric(c.applied, prometheus.GaugeValue, float64(d.Applied), d.Name)
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, float64(d.JournalLast), d.Name)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag, d.Name)
		ch <- prometheus.MustNewConstMetric(c.snapshotSeq, prometheus.GaugeValue, float64(d.SnapshotSeq), d.Name)
	}
}
