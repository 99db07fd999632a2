package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sopd/sop"
	"github.com/sopd/sop/httpapi"
)

// sopHTTP is a sop node (journal sync always) behind httpapi on a loopback port, and
// an HTTP client for it.
type sopHTTP struct {
	db     *sop.DB
	srv    *http.Server
	base   string // http://127.0.0.1:port/v1/domains/default/stores/bench
	watch0 string // the watch URL
	client *http.Client
	puts   atomic.Int64
}

func openSopHTTP(dir string, clients int) (*sopHTTP, error) {
	ctx := context.Background()
	db, err := sop.Open(ctx, sop.Options{Dir: dir, JournalSync: sop.SyncAlways})
	if err != nil {
		return nil, fmt.Errorf("open sop: %w", err)
	}
	if _, err := db.CreateStore(ctx, sop.DefaultDomain, httpStore, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("create store: %w", err)
	}
	h, err := httpapi.New(db, httpapi.Options{})
	if err != nil {
		db.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	root := "http://" + l.Addr().String()
	return &sopHTTP{
		db: db, srv: srv,
		base:   root + "/v1/domains/default/stores/" + httpStore,
		watch0: root + "/v1/domains/default/watch",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}},
	}, nil
}

// send PUTs value under key and checks the answer.
func (s *sopHTTP) send(key, value string) error {
	req, err := http.NewRequest(http.MethodPut, s.base+"/items/"+key, strings.NewReader(value))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s: %s", key, resp.Status, body)
	}
	s.puts.Add(1)
	return nil
}

func (s *sopHTTP) put(g *httpGen) error        { return s.send(g.next()) }
func (s *sopHTTP) putStamped(g *httpGen) error { return s.send(g.stamped()) }

// sopWatchStreams is how many multiplexed streams (HTTP connections) the
// watchers of the watch case share, as etcd's share etcdWatchClients clients.
const sopWatchStreams = etcdWatchClients

// watch starts n watches of the store, spread over sopWatchStreams multiplexed
// change streams (POST .../watch), each watch counting its events and reporting
// them to sink, and returns once every stream is established.
func (s *sopHTTP) watch(n int, sink *watchSink) (func(want int64) ([]int, error), error) {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: sopWatchStreams}
	client := &http.Client{Transport: tr}
	counts := make([]atomic.Int64, n)
	streams := min(sopWatchStreams, n)
	errs := make([]error, streams)
	var wg, ready sync.WaitGroup
	var failed atomic.Pointer[error]
	for i := range streams {
		var ids []int // the watches of stream i: i, i+streams, ...
		for w := i; w < n; w += streams {
			ids = append(ids, w)
		}
		ready.Add(1)
		wg.Go(func() {
			errs[i] = s.watchStream(ctx, client, sink, ids, counts, ready.Done)
			if errs[i] != nil && ctx.Err() == nil {
				failed.CompareAndSwap(nil, &errs[i])
			}
		})
	}
	ready.Wait()
	stop := func(want int64) ([]int, error) {
		if p := failed.Load(); p != nil {
			cancel()
			wg.Wait()
			return nil, *p
		}
		drain(counts, want)
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
		return loads(counts), nil
	}
	if p := failed.Load(); p != nil {
		stop(0)
		return nil, *p
	}
	return stop, nil
}

// watchStream reads one multiplexed stream carrying the watches ids until ctx
// ends, checking that each watch's seqs increase.
func (s *sopHTTP) watchStream(ctx context.Context, client *http.Client, sink *watchSink, ids []int, counts []atomic.Int64, ready func()) error {
	once := sync.OnceFunc(ready)
	defer once()
	var body strings.Builder
	body.WriteString(`{"watches":[`)
	for i, id := range ids {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":"%d","store":%q}`, id, httpStore)
	}
	body.WriteString(`]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.watch0, strings.NewReader(body.String()))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("watch: %s: %s", resp.Status, b)
	}
	once()
	type watchState struct {
		last  uint64
		local int
	}
	state := make(map[int]*watchState, len(ids))
	for _, id := range ids {
		state[id] = &watchState{}
	}
	r := bufio.NewReaderSize(resp.Body, 256<<10)
	var cur *watchState // the watch of the event being read
	curID := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch stream: %w", err)
		}
		switch {
		case bytes.HasPrefix(line, []byte("event: error")):
			rest, _ := r.ReadSlice('\n')
			return fmt.Errorf("watch stream: a watch ended: %s", rest)
		case bytes.HasPrefix(line, []byte("event: ")):
			id, err := strconv.Atoi(string(bytes.TrimSpace(line[7:])))
			if err != nil || state[id] == nil {
				return fmt.Errorf("watch stream: event of an unknown watch: %q", line)
			}
			cur, curID = state[id], id
		case bytes.HasPrefix(line, []byte("id: ")):
			seq, err := strconv.ParseUint(string(bytes.TrimSpace(line[4:])), 10, 64)
			if err != nil || cur == nil {
				return fmt.Errorf("watch stream: bad id line %q", line)
			}
			if seq <= cur.last {
				return fmt.Errorf("watch stream: watch %d: seq %d after %d", curID, seq, cur.last)
			}
			cur.last = seq
		case bytes.HasPrefix(line, []byte("data: ")):
			if cur == nil {
				return fmt.Errorf("watch stream: data without its watch: %q", line)
			}
			stamp, ok := stampOf(line)
			if !ok {
				return fmt.Errorf("watch stream: event without a stamp: %q", line)
			}
			counts[curID].Add(1)
			sink.deliver(stamp, &cur.local)
			cur = nil
		}
	}
}

// close checks that the store holds every acknowledged put, then stops the server
// and closes the node.
func (s *sopHTTP) close() error {
	var err error
	stores, _, serr := s.db.Stores(sop.DefaultDomain)
	err = serr
	for _, st := range stores {
		if st.Name == httpStore && st.Count != uint64(s.puts.Load()) {
			err = fmt.Errorf("sop: store %s holds %d items, want %d", httpStore, st.Count, s.puts.Load())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	s.client.CloseIdleConnections()
	return errors.Join(err, s.db.Close())
}

// withSopHTTP runs fn on a fresh sopHTTP for one case.
func withSopHTTP(e *env, name string, fn func(s *sopHTTP) (float64, error)) (v float64, err error) {
	dir, remove, err := caseDir(e, name, "sop")
	if err != nil {
		return 0, err
	}
	defer remove()
	s, err := openSopHTTP(dir, e.cfg.clients)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close sop: %w", cerr)
		}
	}()
	return fn(s)
}

// loads reads counts.
func loads(counts []atomic.Int64) []int {
	out := make([]int, len(counts))
	for i := range counts {
		out[i] = int(counts[i].Load())
	}
	return out
}
