package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sopd/sop/client"
)

// Node is one sopd process of a cluster: its data dir, its passive data
// dir, its HTTP address and a client of it. Killed and started again it
// keeps its data dir, as a restarted machine would.
type Node struct {
	Name    string // its --node-id
	Addr    string // its HTTP address
	Data    string
	Passive string // its --passive-data; empty when it has none
	Client  *client.Client

	faults  string   // its --inject-io-faults control file
	proxies []*Proxy // between it and NATS and Redis (StartCluster)
	p       *proc
}

// Cut cuts the node off from NATS and Redis (its clients still reach
// it): a network partition around it. Heal ends it.
func (n *Node) Cut() {
	for _, p := range n.proxies {
		p.Cut()
	}
}

// Heal ends a Cut.
func (n *Node) Heal() {
	for _, p := range n.proxies {
		p.Heal()
	}
}

// NodeOptions configure a sopd node of a cluster.
type NodeOptions struct {
	Name            string
	NATSURL         string
	RedisURL        string
	ClusterName     string
	LeaseTTL        time.Duration
	JournalReplicas int
	Passive         bool     // give it a passive data dir
	Args            []string // more serve flags
}

// StartNode starts a sopd node and waits until it is ready. It is killed
// when t ends.
func StartNode(t TB, o NodeOptions) *Node {
	t.Helper()
	bin, _ := Binaries(t)
	dir := t.TempDir()
	n := &Node{Name: o.Name, Addr: FreeAddr(t), Data: filepath.Join(dir, "data"), faults: filepath.Join(dir, "io-faults")}
	args := []string{"serve", "--node-id", o.Name, "--data", n.Data, "--http", n.Addr,
		"--nats-url", o.NATSURL, "--inject-io-faults", n.faults, "--log-level", "debug"}
	if o.RedisURL != "" {
		args = append(args, "--redis-url", o.RedisURL)
	}
	if o.ClusterName != "" {
		args = append(args, "--cluster-name", o.ClusterName)
	}
	if o.LeaseTTL > 0 {
		args = append(args, "--lease-ttl", o.LeaseTTL.String())
	}
	if o.JournalReplicas > 0 {
		args = append(args, "--journal-replicas", fmt.Sprint(o.JournalReplicas))
	}
	if o.Passive {
		n.Passive = filepath.Join(dir, "passive")
		args = append(args, "--passive-data", n.Passive)
	}
	n.p = newProc("sopd "+o.Name, bin, append(args, o.Args...))
	c, err := client.New("http://"+n.Addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.Client = c
	if err := n.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.p.kill)
	return n
}

// Start starts the node (after Kill) and waits until /readyz answers 200.
func (n *Node) Start(within time.Duration) error {
	if err := n.p.start(); err != nil {
		return err
	}
	return n.WaitReady(within)
}

// WaitReady waits until the node's /readyz answers 200.
func (n *Node) WaitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if !n.p.running() {
			return fmt.Errorf("%s exited:\n%s", n.p.name, tail(n.Log(), 40))
		}
		resp, err := hc.Get("http://" + n.Addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v:\n%s", n.p.name, within, tail(n.Log(), 40))
}

// Kill kills the node with SIGKILL.
func (n *Node) Kill() { n.p.kill() }

// Pause stops the node with SIGSTOP; Resume continues it.
func (n *Node) Pause() error  { return n.p.signal(syscall.SIGSTOP) }
func (n *Node) Resume() error { return n.p.signal(syscall.SIGCONT) }

// Running reports whether the node's process runs (paused counts).
func (n *Node) Running() bool { return n.p.running() }

// Log is what the node logged so far, over all its runs.
func (n *Node) Log() string { return n.p.log.String() }

// InjectIO makes every page-file operation in the node's data dir fail
// with errno (for example "EIO" or "ENOSPC") until ClearIO.
func (n *Node) InjectIO(errno string) error { return os.WriteFile(n.faults, []byte(errno+"\n"), 0o644) }

// ClearIO stops injecting I/O errors.
func (n *Node) ClearIO() error {
	if err := os.Remove(n.faults); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Role is the node's role in domain ("leader", "follower"), or a word
// saying why it has none ("down", "no domain").
func (n *Node) Role(ctx context.Context, domain string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := n.Client.Status(ctx)
	if err != nil {
		return "down"
	}
	for _, d := range st.Domains {
		if d.Name == domain {
			return d.Role
		}
	}
	return "no domain"
}

// Hash is the node's state hash of domain as "seq:hex".
func (n *Node) Hash(ctx context.Context, domain string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seq, sum, err := n.Client.Hash(ctx, domain)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%x", seq, sum), nil
}

// Cluster is a whole loopback cluster: NATS servers, a Redis, sopd nodes.
type Cluster struct {
	NATS  *NATS
	Redis *Redis
	Nodes []*Node
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	NATSServers int           // default 3
	Nodes       int           // default 3
	LeaseTTL    time.Duration // default 1s
	Passive     bool          // every node gets a passive data dir
	Args        []string      // more serve flags for every node
}

// StartCluster starts NATS servers, a Redis and sopd nodes that use them
// (journal streams with min(3, NATSServers) replicas), and waits until
// every node is ready and domain default has one leader.
func StartCluster(t TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.NATSServers <= 0 {
		o.NATSServers = 3
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Second
	}
	c := &Cluster{Redis: StartRedis(t)}
	c.NATS = StartNATS(t, o.NATSServers)
	for i := range o.Nodes {
		// Each node reaches NATS and Redis through proxies of its own, so
		// that a test can cut it off (Node.Cut).
		var proxies []*Proxy
		var urls []string
		for _, s := range c.NATS.Servers {
			p := StartProxy(t, s.ClientAddr)
			proxies = append(proxies, p)
			urls = append(urls, "nats://"+p.Addr)
		}
		rp := StartProxy(t, c.Redis.Addr)
		proxies = append(proxies, rp)
		n := StartNode(t, NodeOptions{
			Name: fmt.Sprintf("s%d", i+1), NATSURL: strings.Join(urls, ","), RedisURL: "redis://" + rp.Addr, ClusterName: "faults",
			LeaseTTL: o.LeaseTTL, JournalReplicas: min(3, o.NATSServers), Passive: o.Passive, Args: o.Args,
		})
		n.proxies = proxies
		c.Nodes = append(c.Nodes, n)
	}
	if _, err := c.WaitLeader(context.Background(), "default", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// Leader is the node that says it leads domain now, or nil.
func (c *Cluster) Leader(ctx context.Context, domain string) *Node {
	for _, n := range c.Nodes {
		if n.Running() && n.Role(ctx, domain) == "leader" {
			return n
		}
	}
	return nil
}

// WaitLeader waits until exactly one running node leads domain.
func (c *Cluster) WaitLeader(ctx context.Context, domain string, within time.Duration) (*Node, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var leaders []*Node
		for _, n := range c.Nodes {
			if n.Running() && n.Role(ctx, domain) == "leader" {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("domain %s has no single leader after %v:\n%s", domain, within, c.Roles(ctx, domain))
}

// Roles is each node's role in domain, for messages.
func (c *Cluster) Roles(ctx context.Context, domain string) string {
	var b strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "%s: %s\n", n.Name, n.Role(ctx, domain))
	}
	return b.String()
}

// WaitConverged waits until every running node reports the same state
// hash of domain at the same seq, and returns it.
func (c *Cluster) WaitConverged(ctx context.Context, domain string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	var last map[string]string
	for time.Now().Before(deadline) {
		last = map[string]string{}
		var first string
		same := true
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			h, err := n.Hash(ctx, domain)
			if err != nil {
				h = "error: " + err.Error()
				same = false
			}
			last[n.Name] = h
			if first == "" {
				first = h
			} else if h != first {
				same = false
			}
		}
		if same && first != "" {
			return first, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("domain %s did not converge within %v: %v", domain, within, last)
}

// Logs is every node's log, for a failing test's message.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "==== %s\n%s\n", n.Name, tail(n.Log(), 80))
	}
	return b.String()
}

// SaveLogs writes every node's whole log, and every NATS server's, to
// files in dir (created) and returns a line naming them, for a failing
// test's message.
func (c *Cluster) SaveLogs(dir string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "cannot save the logs: " + err.Error()
	}
	for _, n := range c.Nodes {
		os.WriteFile(filepath.Join(dir, n.Name+".log"), []byte(n.Log()), 0o644)
	}
	for _, s := range c.NATS.Servers {
		os.WriteFile(filepath.Join(dir, "nats-"+s.Name+".log"), []byte(s.Log()), 0o644)
	}
	return "the processes' logs are in " + dir
}

// Metrics is the /metrics text of the node serving HTTP at addr.
func Metrics(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s/metrics: %s", addr, resp.Status)
	}
	return string(b), nil
}
