package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdWatchClients is how many clientv3 clients the watchers of the watch case share.
const etcdWatchClients = 10

// etcdPrefix is the key prefix of the http suite's writes to etcd.
const etcdPrefix = "bench/"

// putString writes g's next key and value (the bytes sop's side sends) with one Put.
func (c *etcdEngine) putString(g *httpGen) error {
	key, value := g.next()
	return c.putKV(etcdPrefix+key, value)
}

func (c *etcdEngine) putStamped(g *httpGen) error {
	key, value := g.stamped()
	return c.putKV(etcdPrefix+key, value)
}

func (c *etcdEngine) putKV(key, value string) error {
	if _, err := c.cli.Put(context.Background(), key, value); err != nil {
		return err
	}
	c.puts.Add(1)
	return nil
}

// watch starts n prefix watches spread over etcdWatchClients clients, each counting
// its events and reporting them to sink, and returns once every watch is established.
func (c *etcdEngine) watch(n int, sink *watchSink) (func(want int64) ([]int, error), error) {
	ctx, cancel := context.WithCancel(context.Background())
	endpoints := c.cli.Endpoints()
	clients := make([]*clientv3.Client, etcdWatchClients)
	for i := range clients {
		cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			cancel()
			for _, c := range clients[:i] {
				c.Close()
			}
			return nil, err
		}
		clients[i] = cli
	}
	rev, err := c.cli.Get(ctx, "bench-start")
	if err != nil {
		cancel()
		return nil, err
	}
	counts := make([]atomic.Int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	for i := range n {
		ready.Add(1)
		cli := clients[i%len(clients)]
		wg.Go(func() {
			// Start after the current revision, so that "established" cannot race
			// the first write, and require progress notifications to know it is.
			wch := cli.Watch(clientv3.WithRequireLeader(ctx), etcdPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev.Header.Revision+1), clientv3.WithCreatedNotify())
			var last int64
			local := 0
			created := false
			for resp := range wch {
				if err := resp.Err(); err != nil {
					if ctx.Err() == nil {
						errs[i] = err
					}
					break
				}
				if resp.Created && !created {
					created = true
					ready.Done()
				}
				for _, ev := range resp.Events {
					if ev.Kv.ModRevision <= last {
						errs[i] = fmt.Errorf("revision %d after %d", ev.Kv.ModRevision, last)
					}
					last = ev.Kv.ModRevision
					stamp, ok := stampOf(ev.Kv.Value)
					if !ok {
						errs[i] = fmt.Errorf("event without a stamp: %q", ev.Kv.Value)
						continue
					}
					counts[i].Add(1)
					sink.deliver(stamp, &local)
				}
			}
			if !created {
				ready.Done()
			}
		})
	}
	ready.Wait()
	return func(want int64) ([]int, error) {
		drain(counts, want)
		cancel()
		wg.Wait()
		var errAll error
		for _, cli := range clients {
			errAll = errors.Join(errAll, cli.Close())
		}
		return loads(counts), errors.Join(append(errs, errAll)...)
	}, nil
}

// withEtcd runs fn on a fresh embedded etcd for one case.
func withEtcd(e *env, name string, fn func(c *etcdEngine) (float64, error)) (v float64, err error) {
	dir, remove, err := caseDir(e, name, "etcd")
	if err != nil {
		return 0, err
	}
	defer remove()
	c, err := openEtcd(dir)
	if err != nil {
		return 0, fmt.Errorf("start etcd: %w", err)
	}
	defer func() { err = errors.Join(err, c.close()) }()
	return fn(c)
}
