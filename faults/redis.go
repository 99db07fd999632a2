package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Redis is a redis-server without persistence on a loopback port: what
// sop's leases need. Restart kills it and starts it again on the same
// port, empty, with a new run id.
type Redis struct {
	Addr string
	p    *proc
}

// StartRedis starts a redis-server for t. It skips t when the binary is
// missing, unless SOP_REQUIRE_REDIS is set (CI sets it).
func StartRedis(t TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SOP_REQUIRE_REDIS") != "" {
			t.Fatalf("redis-server not found and SOP_REQUIRE_REDIS is set: %v", err)
		}
		t.Skip("redis-server not found on PATH: install it (scripts/test-deps.sh does) to run the multi-process tests")
	}
	r := &Redis{Addr: FreeAddr(t)}
	dir := t.TempDir()
	host, port := splitAddr(r.Addr)
	r.p = newProc("redis", bin, []string{"--port", port, "--bind", host, "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no"})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.p.kill)
	return r
}

// URL is the redis:// URL of the server (for --redis-url).
func (r *Redis) URL() string { return "redis://" + r.Addr }

// Start starts the server and waits until it listens.
func (r *Redis) Start() error {
	if err := r.p.start(); err != nil {
		return err
	}
	return waitListening(r.p, r.Addr, 10*time.Second)
}

// Kill kills the server with SIGKILL: every lease in it is gone.
func (r *Redis) Kill() { r.p.kill() }

// Restart kills the server and starts it again on the same port, empty.
func (r *Redis) Restart() error {
	r.Kill()
	return r.Start()
}

// Pause stops the server with SIGSTOP; Resume continues it.
func (r *Redis) Pause() error  { return r.p.signal(syscall.SIGSTOP) }
func (r *Redis) Resume() error { return r.p.signal(syscall.SIGCONT) }
