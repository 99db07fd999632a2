package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sopd/sop/faults"
)

// harness is the faults.TB of one side of a case: what the faults harness starts
// (processes, directories) lives until the side ends, when its cleanups run in
// reverse order. Fatal and Skip end the side: they panic with a harnessStop that
// withHarness recovers into the side's error. The harness calls them only from the
// goroutine it was called on, which is withHarness's.
type harness struct {
	dir      string
	logf     func(format string, a ...any)
	cleanups []func()
}

var _ faults.TB = (*harness)(nil)

// harnessStop carries Fatal's or Skip's message to withHarness.
type harnessStop struct{ err error }

func (h *harness) Helper() {}

func (h *harness) Fatal(args ...any) { panic(harnessStop{errors.New(fmt.Sprint(args...))}) }

func (h *harness) Fatalf(format string, args ...any) {
	panic(harnessStop{fmt.Errorf(format, args...)})
}

// Skip is an error here: a benchmark that cannot run its case has no figure to give.
func (h *harness) Skip(args ...any) {
	panic(harnessStop{fmt.Errorf("cannot run: %s", fmt.Sprint(args...))})
}

func (h *harness) Logf(format string, args ...any) { h.logf(format, args...) }

func (h *harness) TempDir() string {
	d, err := os.MkdirTemp(h.dir, "tmp-")
	if err != nil {
		h.Fatal(err)
	}
	return d
}

func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }

// finish runs the cleanups, the last registered first.
func (h *harness) finish() {
	for _, f := range slices.Backward(h.cleanups) {
		f()
	}
	h.cleanups = nil
}

// withHarness runs fn with a fresh harness whose directories are under a fresh
// directory for this side of the case; afterwards it stops everything fn started and
// removes the directory.
func withHarness(e *env, name, side string, fn func(h *harness) error) (err error) {
	dir, remove, err := caseDir(e, name, side)
	if err != nil {
		return err
	}
	defer remove()
	h := &harness{dir: dir, logf: e.logf}
	defer h.finish()
	defer func() {
		if r := recover(); r != nil {
			stop, ok := r.(harnessStop)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s %s: %w", side, name, stop.err)
		}
	}()
	return fn(h)
}

// buildBinaries has faults.Binaries build sopd and nats-server, before anything is
// timed, and returns the directory it built them in: a temporary directory of their
// own that the harness leaves behind (a test process exits soon after), which the
// caller removes once the suite is done.
func buildBinaries(e *env, name string) (dir string, err error) {
	start := time.Now()
	err = withHarness(e, name, "build", func(h *harness) error {
		sopd, _ := faults.Binaries(h)
		dir = filepath.Dir(sopd)
		return nil
	})
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(filepath.Base(dir), "sop-faults-bin-") {
		return "", fmt.Errorf("faults.Binaries built into %s, not a directory of its own", dir)
	}
	e.logf("%s %s: built sopd and nats-server in %v", e.suite.name, name, time.Since(start).Round(time.Millisecond))
	return dir, nil
}
