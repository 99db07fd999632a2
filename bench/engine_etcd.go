package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdVersion is the version of the etcd the bench embeds.
var etcdVersion = "v" + version.Version

// etcdReadyTimeout bounds how long etcd may take to elect itself and serve.
const etcdReadyTimeout = 30 * time.Second

// etcdEngine is an embedded single-member etcd with its default durability (the WAL
// is fsynced before a write is answered), and a client on its loopback port.
type etcdEngine struct {
	srv  *embed.Etcd
	cli  *clientv3.Client
	puts atomic.Int64 // puts acknowledged, checked against the key count at close
}

func openEtcd(dir string) (*etcdEngine, error) {
	clientURL, err := loopbackURL()
	if err != nil {
		return nil, err
	}
	peerURL, err := loopbackURL()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "bench"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		return nil, err
	case <-time.After(etcdReadyTimeout):
		srv.Close()
		return nil, fmt.Errorf("not ready within %v", etcdReadyTimeout)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{clientURL.String()},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("client: %w", err)
	}
	return &etcdEngine{srv: srv, cli: cli}, nil
}

// loopbackURL returns an http URL on a free loopback port.
func loopbackURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return url.URL{}, err
	}
	return url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, nil
}

// put writes g's next key and value with one Put.
func (c *etcdEngine) put(g *entryGen) error {
	key, value := g.next()
	if _, err := c.cli.Put(context.Background(), string(key), string(value)); err != nil {
		return err
	}
	c.puts.Add(1)
	return nil
}

// close checks that etcd holds a key for every acknowledged put, then stops client and
// server.
func (c *etcdEngine) close() error {
	resp, err := c.cli.Get(context.Background(), "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err == nil && resp.Count != c.puts.Load() {
		err = fmt.Errorf("etcd holds %d keys, want %d", resp.Count, c.puts.Load())
	}
	err = errors.Join(err, c.cli.Close())
	c.srv.Close()
	return err
}

// etcdThroughput measures puts/s of -clients goroutines sharing one client.
func etcdThroughput(e *env, name string) (rate float64, err error) {
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
	return throughput(e, "etcd", name, e.cfg.clients, 1, c.put)
}
