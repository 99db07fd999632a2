package redislock

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireEnv, when set, turns a missing redis-server into a failure
// instead of a skip (scripts/test-deps.sh installs it for `make test`).
const requireEnv = "SOP_REQUIRE_REDIS"

// server is a redis-server child process on a loopback port, with no
// persistence, in a temporary directory: what sop asks of Redis.
type server struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	addr string
	cmd  *exec.Cmd
}

// startServer starts a redis-server for t, which t.Cleanup kills. It
// skips t when the binary is missing, unless SOP_REQUIRE_REDIS is set.
func startServer(t *testing.T) *server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(requireEnv) != "" {
			t.Fatalf("redis-server not found and %s is set: %v", requireEnv, err)
		}
		t.Skipf("redis-server not found on PATH: install it (scripts/test-deps.sh does) to run the Redis lease tests; set %s=1 to fail instead of skipping", requireEnv)
	}
	s := &server{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	s.addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	s.start()
	t.Cleanup(s.kill)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs redis-server on s.port and waits until it answers PING.
func (s *server) start() {
	s.t.Helper()
	log := filepath.Join(s.dir, "redis.log")
	s.cmd = exec.Command(s.bin,
		"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", log, "--daemonize", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.ping() {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			s.kill()
			s.t.Fatalf("redis-server on %s did not answer PING within 10s; its log:\n%s", s.addr, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *server) ping() bool {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// restart kills the server and starts a new one on the same port: an
// empty Redis with a new run_id.
func (s *server) restart() {
	s.t.Helper()
	s.kill()
	s.start()
}
