// Package faults runs sop clusters as real processes on loopback and
// injects faults into them, for the multi-process tests of the cluster
// and of reliability: nats-server processes built from this module's
// nats-server dependency, a redis-server, sopd processes built from
// cmd/sopd. Faults are real: SIGKILL and restart, SIGSTOP and SIGCONT,
// network cuts through a TCP proxy the test controls, and I/O errors on a
// node's page files (sopd --inject-io-faults).
//
// Package faults/check holds the checkers of the histories the tests
// record.
package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is what the harness needs of a test: testing.TB has it, and a
// benchmark program can provide it.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// proc is one process the harness runs: it can be killed, paused and
// started again with the same arguments.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  *logBuffer // stdout and stderr of every run, in order

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run exited
}

// logBuffer is a process's output, safe to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newProc(name, bin string, args []string, env ...string) *proc {
	return &proc{name: name, bin: bin, args: args, env: append(cleanEnv(), env...), log: &logBuffer{}}
}

// start runs the process; it must not be running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is running", p.name)
	}
	fmt.Fprintf(p.log, "---- %s start %s\n", time.Now().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		cmd.Wait()
		close(done)
	}()
	return nil
}

// kill sends SIGKILL (to a paused process too) and waits for the exit.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	fmt.Fprintf(p.log, "---- %s killed %s\n", time.Now().Format(time.RFC3339Nano), p.name)
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	fmt.Fprintf(p.log, "---- %s %v %s\n", time.Now().Format(time.RFC3339Nano), sig, p.name)
	return p.cmd.Process.Signal(sig)
}

// running reports whether the process runs (it may be paused).
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// cleanEnv is the environment without SOP_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOP_") {
			env = append(env, kv)
		}
	}
	return env
}

// FreeAddr returns a free loopback address for a process the harness
// starts later. The port comes from below the kernel's ephemeral range
// (32768 and up on Linux), so no outgoing connection and no other test
// process binding port 0 can take it between now and the process's bind,
// and the same port is never handed out twice in one test process (a
// cluster asks for nine at once).
func FreeAddr(t TB) string {
	t.Helper()
	freeMu.Lock()
	defer freeMu.Unlock()
	for range 1000 {
		port := freeLow + rand.IntN(freeHigh-freeLow)
		if freeGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		ln.Close()
		freeGiven[port] = true
		return ln.Addr().String()
	}
	t.Fatal("no free loopback port in 1000 tries")
	return ""
}

// The range FreeAddr picks from, and the ports it gave out.
const freeLow, freeHigh = 20000, 32000

var (
	freeMu    sync.Mutex
	freeGiven = map[int]bool{}
)

// waitListening waits until addr accepts connections or p exits.
func waitListening(p *proc, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited:\n%s", p.name, tail(p.log.String(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s within %v:\n%s", p.name, addr, within, tail(p.log.String(), 40))
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// binaries are built once per test process.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds sopd (cmd/sopd) and nats-server (this module's
// nats-server dependency) once per test process and returns their paths.
func Binaries(t TB) (sopd, natsServer string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "sop-faults-bin-")
		if buildErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		for _, b := range []struct{ out, pkg string }{
			{"sopd", "./cmd/sopd"},
			{"nats-server", "github.com/nats-io/nats-server/v2"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, b.out), b.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "sopd"), filepath.Join(buildDir, "nats-server")
}

// RemoveBinaries deletes what Binaries built; call it once the process's
// tests are done (TestMain).
func RemoveBinaries() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// moduleRoot is the directory of the sop module (this one, or the one
// a module that requires it, such as bench/, replaces it with).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/sopd/sop").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/sopd/sop: %w (run inside the sop module or one that requires it)", err)
	}
	return strings.TrimSpace(string(out)), nil
}
