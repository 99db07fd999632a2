package sop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/sopd/sop/checkpoint"
	"github.com/sopd/sop/replay"
)

// replays tracks the journal replays running on a node, for Status.
type replays struct {
	mu sync.Mutex
	m  map[string]replay.Progress // guarded by mu
}

func (r *replays) set(domain string, p replay.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]replay.Progress{}
	}
	if p.Done {
		delete(r.m, domain)
		return
	}
	r.m[domain] = p
}

func (r *replays) get(domain string) (replay.Progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.m[domain]
	return p, ok
}

// Rebuild wipes this node's local state of domain (its page file and
// checkpoint) and builds it again, online: from the newest snapshot and
// the journal after it, or from the whole journal when it still starts at
// seq 1. Meanwhile the domain answers ErrClosed (commits, reads and
// watches; watchers resume afterwards) and Status shows the replay's
// progress. It returns the seq the rebuilt domain has applied.
func (db *DB) Rebuild(ctx context.Context, name string) (uint64, error) {
	old, err := db.domain(name)
	if err != nil {
		return 0, err
	}
	if !old.rebuilding.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("%w: domain %s is being rebuilt already", ErrUnavailable, name)
	}
	rebuilt := false
	defer func() {
		if !rebuilt {
			old.rebuilding.Store(false) // a failed rebuild can be started again
		}
	}()
	db.opts.Logger.Info("rebuilding domain: wiping its local state", "domain", name, "applied", old.applied())
	if err := old.close(); err != nil {
		db.opts.Logger.Warn("closing the domain before its rebuild", "domain", name, "err", err)
	}
	rec, ok, err := db.ckpt.Load(name)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: %q has no record in the checkpoint database", ErrDomainNotFound, name)
	}
	if err := db.ckpt.Save(name, checkpoint.Domain{Incarnation: rec.Incarnation}); err != nil {
		return 0, err
	}
	path := filepath.Join(db.dir, "domains", name, "pages")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("remove the page file: %w", err)
	}
	d, err := openDomain(ctx, db, name)
	if err != nil {
		return 0, fmt.Errorf("rebuild domain %s: %w (its local state is empty: rebuild again once the cause is fixed)", name, err)
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return 0, errors.Join(ErrClosed, d.close())
	}
	db.domains[name] = d
	db.mu.Unlock()
	rebuilt = true
	db.opts.Logger.Info("domain rebuilt", "domain", name, "applied", d.applied())
	return d.applied(), nil
}
