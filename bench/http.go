package main

// Suite http: sopd's HTTP API (package httpapi in front of a sop node, served over
// loopback TCP) against etcd's gRPC API (embed, single member, clientv3 over loopback
// TCP), both at their default durability: sop's journal is fsynced before a write is
// answered (JournalSync always), as is etcd's WAL.
//
// Cases:
//
//	put-vs-etcd   -clients (64) goroutines each writing one item at a time: sop with
//	        PUT /v1/domains/default/stores/bench/items/{key} through one http.Client
//	        (keep-alive, one connection per goroutine), etcd with Put through one
//	        clientv3 client. Keys are 16 hex digits, values a JSON string of 256 hex
//	        digits, the same bytes for both (puts/s).
//	watch-p99-vs-etcd  -watchers (1000) watchers of the whole store while -clients
//	        writers put at a paced -watch-rate (5000) commits/s: sop's watchers are
//	        watches of the store spread over 10 multiplexed Server-Sent Events
//	        streams (POST .../watch, one HTTP connection each, each watch its own
//	        subscription), etcd's are prefix watches spread over 10 clientv3
//	        clients (one gRPC connection each). Each
//	        value carries the writer's clock before it sent the write, and a watcher
//	        computes the delivery latency when the event arrives: commit plus fan-out.
//	        A sample of the deliveries in the measured window gives the p99 and p50
//	        (microseconds, lower is better).
//
// Timing: each engine runs -warmup unmeasured, then -duration measured, in a fresh
// directory. Checks: put-vs-etcd asks each engine afterwards how many items it holds,
// which must equal the acknowledged puts; in watch-p99-vs-etcd every watcher must have
// received every event in order (sop: seqs strictly increasing and as many as the
// writes; etcd: revisions likewise).

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	casePutEtcd   = "put-vs-etcd"
	caseWatchEtcd = "watch-p99-vs-etcd"
	httpStore     = "bench"
	httpPad       = 200 // bytes of padding in a watch case value
)

// httpGen makes one writer's keys and values.
type httpGen struct {
	rng *rand.Rand
	buf []byte
}

func newHTTPGen(worker int) *httpGen {
	return &httpGen{rng: rand.New(rand.NewPCG(seed, uint64(worker)))}
}

func (g *httpGen) hex(n int) string {
	g.buf = g.buf[:0]
	for len(g.buf) < n/2 {
		g.buf = binary.LittleEndian.AppendUint64(g.buf, g.rng.Uint64())
	}
	return hex.EncodeToString(g.buf[:n/2])
}

// next returns a key of 16 hex digits and a value: a JSON string of 256 hex digits.
func (g *httpGen) next() (key, value string) {
	return g.hex(16), `"` + g.hex(256) + `"`
}

// stamped returns a key and a value carrying the current time in Unix nanoseconds.
func (g *httpGen) stamped() (key, value string) {
	return g.hex(16), `{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"p":"` + g.hex(httpPad) + `"}`
}

// stampOf finds the time stamp of a stamped value in b (an event as the engine sends
// it); ok is false when there is none.
func stampOf(b []byte) (time.Time, bool) {
	const tag = `"t":`
	i := bytes.Index(b, []byte(tag))
	if i < 0 {
		return time.Time{}, false
	}
	b = b[i+len(tag):]
	var n int64
	j := 0
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + int64(b[j]-'0')
	}
	if j == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

func runHTTP(e *env) ([]result, error) {
	c := e.cfg
	e.note("durability: sop JournalSync always (embedded nats-server, fsync before ack); etcd %s embed defaults (WAL fsync before ack); both served over loopback TCP", etcdVersion)
	e.note("timing: %v warm-up, then %v measured, per engine per case; each engine in a fresh directory", c.warmup, c.duration)
	var out []result

	var sopRate, peerRate float64
	var err error
	if e.runSop() {
		if sopRate, err = withSopHTTP(e, casePutEtcd, func(s *sopHTTP) (float64, error) {
			rate, err := throughputHTTP(e, "sop", casePutEtcd, c.clients, s.put)
			if err == nil {
				logGroups(e, casePutEtcd, s.db)
			}
			return rate, err
		}); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if peerRate, err = withEtcd(e, casePutEtcd, func(p *etcdEngine) (float64, error) {
			return throughputHTTP(e, "etcd", casePutEtcd, c.clients, p.putString)
		}); err != nil {
			return nil, err
		}
	}
	r := newResult(e, casePutEtcd, "puts/s", sopRate, peerRate)
	r.Peer, r.Unit = "etcd", "puts/s"
	out = append(out, r)
	e.note("put-vs-etcd: %d writers each; sop: HTTP/1.1 PUT with keep-alive; etcd: Put through one clientv3 client; target sop/etcd >= 2.0", c.clients)

	var sopLat, peerLat watchLatency
	if e.runSop() {
		if _, err = withSopHTTP(e, caseWatchEtcd, func(s *sopHTTP) (float64, error) {
			sopLat, err = measureWatch(e, "sop", s.watch, s.putStamped)
			return 0, err
		}); err != nil {
			return nil, err
		}
	}
	if e.runPeer() {
		if _, err = withEtcd(e, caseWatchEtcd, func(p *etcdEngine) (float64, error) {
			peerLat, err = measureWatch(e, "etcd", p.watch, p.putStamped)
			return 0, err
		}); err != nil {
			return nil, err
		}
	}
	r = newResult(e, caseWatchEtcd, "p99 µs", sopLat.lat.p99f(), peerLat.lat.p99f())
	r.Peer, r.Unit = "etcd", "us"
	out = append(out, r)
	e.note("watch-p99-vs-etcd: %d watchers, writes paced at %d/s by %d writers; sop: one SSE stream per watcher; etcd: prefix watches over 10 clients; achieved: sop %.0f writes/s, etcd %.0f writes/s; p50 sop %.0f µs, etcd %.0f µs; target sop/etcd <= 1.0",
		c.watchers, c.watchRate, c.clients, sopLat.rate, peerLat.rate, sopLat.lat.p50us(), peerLat.lat.p50us())
	return out, nil
}

func (l latency) p99f() float64 {
	if p := l.p99us(); p != nil {
		return *p
	}
	return 0
}

// throughputHTTP runs workers goroutines calling op with their own httpGen, as
// throughput does for the engine suite.
func throughputHTTP(e *env, side, name string, workers int, op func(g *httpGen) error) (float64, error) {
	return throughputOf(e, side, name, workers, 1, func(i int) func() error {
		g := newHTTPGen(i)
		return func() error { return op(g) }
	})
}

// watchLatency is what a watch run measured.
type watchLatency struct {
	lat  latency // sampled delivery latencies in the measured window
	rate float64 // writes per second achieved in the measured window
}

// watchSink is what one watcher reports: each event's stamp (when sampled) and its
// position, to check order.
type watchSink struct {
	measuring *atomic.Bool
	every     int
	mu        sync.Mutex
	lat       latency
	n         int
}

// deliver records one event received now; it is called by one watcher goroutine.
func (s *watchSink) deliver(stamp time.Time, local *int) {
	*local++
	if !s.measuring.Load() || *local%s.every != 0 {
		return
	}
	d := time.Since(stamp)
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.n++
	s.mu.Unlock()
}

// measureWatch starts -watchers watchers with start (each reporting every event to
// sink.deliver and returning the events it saw when stopped), paces -clients writers
// at -watch-rate, and returns the sampled delivery latencies of the measured window.
// drain waits until every count reaches want, or until they make no
// progress for 5 seconds: watchers still delivering a backlog when the
// writers stop are given the time to finish it.
func drain(counts []atomic.Int64, want int64) {
	total := func() (sum int64, all bool) {
		all = true
		for i := range counts {
			n := counts[i].Load()
			sum += n
			all = all && n >= want
		}
		return sum, all
	}
	last, since := int64(-1), time.Now()
	for {
		sum, all := total()
		if all || time.Since(since) > 5*time.Second {
			return
		}
		if sum != last {
			last, since = sum, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func measureWatch(e *env, side string, start func(n int, sink *watchSink) (stop func(want int64) ([]int, error), err error), put func(g *httpGen) error) (watchLatency, error) {
	c := e.cfg
	total := float64(c.watchers) * float64(c.watchRate) * c.duration.Seconds()
	sink := &watchSink{measuring: new(atomic.Bool), every: max(1, int(total/1e6))}
	stopWatch, err := start(c.watchers, sink)
	if err != nil {
		return watchLatency{}, fmt.Errorf("%s %s: start watchers: %w", side, caseWatchEtcd, err)
	}
	tokens := make(chan struct{}, c.watchRate)
	var (
		writes  atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
		errc    = make(chan error, c.clients+1)
	)
	wg.Go(func() {
		// Hand out write permits at -watch-rate, in 1 ms steps.
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		begin, given := time.Now(), 0
		for !stopped.Load() {
			<-t.C
			due := int(time.Since(begin).Seconds() * float64(c.watchRate))
			for ; given < due; given++ {
				select {
				case tokens <- struct{}{}:
				default: // the writers are behind: the permit is lost, the rate shows it
				}
			}
		}
		close(tokens)
	})
	for i := range c.clients {
		wg.Go(func() {
			g := newHTTPGen(i)
			for range tokens {
				if stopped.Load() {
					return
				}
				if err := put(g); err != nil {
					errc <- err
					return
				}
				writes.Add(1)
			}
		})
	}
	finish := func(err error) (watchLatency, error) {
		stopped.Store(true)
		wg.Wait()
		seen, serr := stopWatch(writes.Load())
		if err = errors.Join(err, serr); err != nil {
			return watchLatency{}, fmt.Errorf("%s %s: %w", side, caseWatchEtcd, err)
		}
		// Every watcher saw every write (they started before the first).
		want := int(writes.Load())
		for i, n := range seen {
			if n != want {
				return watchLatency{}, fmt.Errorf("%s %s: watcher %d saw %d events of %d writes", side, caseWatchEtcd, i, n, want)
			}
		}
		return watchLatency{}, nil
	}
	if err := waitOrFail(c.warmup, errc); err != nil {
		return finish(err)
	}
	stop, err := e.maybeProfile(side, caseWatchEtcd)
	if err != nil {
		return finish(err)
	}
	sink.measuring.Store(true)
	w0, t0 := writes.Load(), time.Now()
	err = waitOrFail(c.duration, errc)
	sink.measuring.Store(false)
	w1, elapsed := writes.Load(), time.Since(t0)
	err = errors.Join(err, stop())
	if _, err := finish(err); err != nil {
		return watchLatency{}, err
	}
	sink.mu.Lock()
	l := slices.Clone(sink.lat)
	sink.mu.Unlock()
	slices.Sort(l)
	rate := float64(w1-w0) / elapsed.Seconds()
	e.logf("%s %s %s: %d writes in %v (%.0f/s) to %d watchers; %d deliveries sampled (1 in %d): p50 %v, p90 %v, p99 %v, max %v",
		e.suite.name, caseWatchEtcd, side, w1-w0, elapsed.Round(time.Millisecond), rate, c.watchers, len(l), sink.every,
		l.quantile(0.5).Round(time.Microsecond), l.quantile(0.9).Round(time.Microsecond), l.quantile(0.99).Round(time.Microsecond), l.quantile(1).Round(time.Microsecond))
	if len(l) == 0 {
		return watchLatency{}, fmt.Errorf("%s %s: no deliveries in the measured window", side, caseWatchEtcd)
	}
	return watchLatency{lat: l, rate: rate}, nil
}
