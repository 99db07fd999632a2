package vfs

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Nth is an Injector that fails the n-th operation of one kind, once. It is safe for
// concurrent use; with concurrent callers, which call is the n-th is decided by
// arrival at the counter.
type Nth struct {
	op   Op
	n    int64
	err  error
	seen atomic.Int64
}

var _ Injector = (*Nth)(nil)

// OnNth returns an Injector under which the n-th (1-based) operation of kind op fails
// with err and every other operation proceeds. With n < 1 nothing fails.
func OnNth(op Op, n int, err error) *Nth { return &Nth{op: op, n: int64(n), err: err} }

// MaybeError implements Injector.
func (o *Nth) MaybeError(op Op, _ string) error {
	if op != o.op || o.seen.Add(1) != o.n {
		return nil
	}
	return o.err
}

// Count returns how many operations of the kind were seen so far, failed or not.
func (o *Nth) Count() int { return int(o.seen.Load()) }

// Fired reports whether the n-th operation has been seen, and so failed.
func (o *Nth) Fired() bool { return o.n >= 1 && o.seen.Load() >= o.n }

// OnPath returns an Injector that fails with err every operation of kind op whose
// path contains substr.
func OnPath(op Op, substr string, err error) Injector {
	return InjectorFunc(func(o Op, path string) error {
		if o == op && strings.Contains(path, substr) {
			return err
		}
		return nil
	})
}

// Toggle is an Injector that, while enabled, fails every operation of the chosen
// kinds. The zero Toggle is disabled and chooses every kind. It is safe for
// concurrent use.
type Toggle struct {
	ops  uint32 // bit 1<<op set for each chosen kind; 0 chooses all
	mu   sync.Mutex
	err  error // nil while disabled; guarded by mu
	hits int   // guarded by mu
}

var _ Injector = (*Toggle)(nil)

// NewToggle returns a disabled Toggle for operations of the given kinds, or of every
// kind when none is given.
func NewToggle(ops ...Op) *Toggle {
	t := &Toggle{}
	for _, op := range ops {
		t.ops |= 1 << op
	}
	return t
}

// Enable makes every chosen operation fail with err until Disable. Enable(nil)
// disables.
func (t *Toggle) Enable(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.err = err
}

// Disable lets every operation proceed.
func (t *Toggle) Disable() { t.Enable(nil) }

// Hits returns how many operations the Toggle has failed.
func (t *Toggle) Hits() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hits
}

// MaybeError implements Injector.
func (t *Toggle) MaybeError(op Op, _ string) error {
	if t.ops != 0 && t.ops&(1<<op) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		t.hits++
	}
	return t.err
}
