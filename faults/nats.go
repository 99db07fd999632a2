package faults

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NATS is a JetStream cluster of nats-server processes on loopback, each
// with its own store directory; a server killed and started again keeps
// its store, as a restarted machine would.
type NATS struct {
	Servers []*NATSServer
}

// NATSServer is one server of a NATS cluster.
type NATSServer struct {
	Name        string
	ClientAddr  string // host:port of its client port
	ClusterAddr string // host:port of its route port
	MonitorAddr string // host:port of its monitoring port (/healthz)
	ProfileAddr string // host:port of its Go profiling port (/debug/pprof/), with NATSOptions.Profile
	p           *proc
}

// StartNATS starts a JetStream cluster of n servers (n >= 1; 3 for R3
// streams) and waits until every server's JetStream is healthy. The
// servers are killed when t ends.
func StartNATS(t TB, n int) *NATS {
	t.Helper()
	return StartNATSWith(t, NATSOptions{Servers: n})
}

// NATSOptions says how StartNATSWith starts a NATS cluster.
type NATSOptions struct {
	Servers int  // how many (>= 1; 3 for R3 streams)
	Profile bool // each server serves Go's profiling endpoints at its ProfileAddr (nats-server --profile)
}

// StartNATSWith is StartNATS with options.
func StartNATSWith(t TB, o NATSOptions) *NATS {
	t.Helper()
	_, bin := Binaries(t)
	c := &NATS{}
	n := o.Servers
	for i := range n {
		s := &NATSServer{
			Name: fmt.Sprintf("n%d", i+1), ClientAddr: FreeAddr(t), ClusterAddr: FreeAddr(t), MonitorAddr: FreeAddr(t),
		}
		if o.Profile {
			s.ProfileAddr = FreeAddr(t)
		}
		c.Servers = append(c.Servers, s)
	}
	var routes []string
	for _, s := range c.Servers {
		routes = append(routes, "nats://"+s.ClusterAddr)
	}
	for _, s := range c.Servers {
		host, port := splitAddr(s.ClientAddr)
		args := []string{"-a", host, "-p", port, "-n", s.Name, "-js", "-sd", filepath.Join(t.TempDir(), "js"),
			"-m", portOf(s.MonitorAddr)}
		if s.ProfileAddr != "" {
			args = append(args, "--profile", portOf(s.ProfileAddr)) // on -a's host
		}
		if n > 1 {
			// --no_advertise: clients reach the servers only at the URLs they
			// were given (the harness's proxies), never at discovered ones.
			args = append(args, "--cluster_name", "sopfaults", "--cluster", "nats://"+s.ClusterAddr, "--routes", strings.Join(routes, ","), "--no_advertise")
		}
		s.p = newProc("nats "+s.Name, bin, args)
		if err := s.p.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.p.kill)
	}
	for _, s := range c.Servers {
		if err := s.WaitHealthy(60 * time.Second); err != nil {
			t.Fatal(fmt.Sprintf("%v\n%s", err, c.describe()))
		}
	}
	return c
}

// describe is every server's state and the last lines of its log without
// the health check's repeated warnings, for a cluster that did not form.
func (c *NATS) describe() string {
	var b strings.Builder
	for _, s := range c.Servers {
		state := "running"
		if !s.p.running() {
			state = "exited"
		}
		var kept []string
		for _, line := range strings.Split(s.Log(), "\n") {
			if !strings.Contains(line, "Healthcheck failed") {
				kept = append(kept, line)
			}
		}
		fmt.Fprintf(&b, "--- nats %s (client %s, route %s, monitor %s): %s\n%s\n",
			s.Name, s.ClientAddr, s.ClusterAddr, s.MonitorAddr, state, tail(strings.Join(kept, "\n"), 40))
	}
	return b.String()
}

// URL is the cluster's client URLs, comma-separated (for --nats-url).
func (c *NATS) URL() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, "nats://"+s.ClientAddr)
	}
	return strings.Join(urls, ",")
}

// Kill kills the server with SIGKILL.
func (s *NATSServer) Kill() { s.p.kill() }

// Start starts a killed server again, with its store, and waits until it
// is healthy.
func (s *NATSServer) Start(within time.Duration) error {
	if err := s.p.start(); err != nil {
		return err
	}
	return s.WaitHealthy(within)
}

// Pause stops the server with SIGSTOP; Resume continues it.
func (s *NATSServer) Pause() error  { return s.p.signal(syscall.SIGSTOP) }
func (s *NATSServer) Resume() error { return s.p.signal(syscall.SIGCONT) }

// Log is what the server printed so far.
func (s *NATSServer) Log() string { return s.p.log.String() }

// WaitHealthy waits until the server's /healthz says its JetStream is
// current (it knows the meta leader and caught up).
func (s *NATSServer) WaitHealthy(within time.Duration) error {
	if err := waitListening(s.p, s.MonitorAddr, within); err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		resp, err := hc.Get("http://" + s.MonitorAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nats %s not healthy within %v:\n%s", s.Name, within, tail(s.Log(), 30))
}

func splitAddr(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

func portOf(addr string) string { _, p := splitAddr(addr); return p }
