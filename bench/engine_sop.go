package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sopd/sop"
)

// sopEngine is a sop node with journal sync always and store "bench" in domain
// "default".
type sopEngine struct {
	db   *sop.DB
	puts atomic.Int64 // commits acknowledged, checked against the store's count at close
}

func openSopEngine(dir string) (*sopEngine, error) {
	ctx := context.Background()
	db, err := sop.Open(ctx, sop.Options{Dir: dir, JournalSync: sop.SyncAlways})
	if err != nil {
		return nil, fmt.Errorf("open sop: %w", err)
	}
	if _, err := db.CreateStore(ctx, engineDomain, engineStore, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("create store: %w", err)
	}
	return &sopEngine{db: db}, nil
}

// put commits one interactive transaction putting g's next key and value.
func (s *sopEngine) put(g *entryGen) error {
	key, value := g.next()
	_, err := s.db.Update(context.Background(), engineDomain, func(tx *sop.Tx) error {
		return tx.Put(engineStore, key, value)
	})
	if err == nil {
		s.puts.Add(1)
	}
	return err
}

// close checks that the store holds every acknowledged put, then closes the node.
func (s *sopEngine) close() error {
	return errors.Join(s.check(), s.db.Close())
}

func (s *sopEngine) check() error {
	stores, _, err := s.db.Stores(engineDomain)
	if err != nil {
		return err
	}
	for _, st := range stores {
		if st.Name == engineStore {
			if want := uint64(s.puts.Load()); st.Count != want {
				return fmt.Errorf("sop: store %s holds %d items, want %d", engineStore, st.Count, want)
			}
			return nil
		}
	}
	return fmt.Errorf("sop: store %s not found", engineStore)
}

// withSop opens sop in a fresh directory for one case, runs fn on it, and closes it.
func withSop(e *env, name string, fn func(s *sopEngine) error) (err error) {
	dir, remove, err := caseDir(e, name, "sop")
	if err != nil {
		return err
	}
	defer remove()
	s, err := openSopEngine(dir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close sop: %w", cerr)
		}
	}()
	return fn(s)
}

// sopThroughput measures commits/s of -clients concurrent committers.
func sopThroughput(e *env, name string) (rate float64, err error) {
	err = withSop(e, name, func(s *sopEngine) error {
		rate, err = throughput(e, "sop", name, e.cfg.clients, 1, s.put)
		if err == nil {
			logGroups(e, name, s.db)
		}
		return err
	})
	return rate, err
}

// logGroups logs the mean group size of db's commits (warm-up included).
func logGroups(e *env, name string, db *sop.DB) {
	st, err := db.Status(context.Background())
	if err != nil {
		return
	}
	for _, d := range st {
		if d.Name == engineDomain && d.Groups > 0 {
			e.logf("%s %s sop: %d commits in %d group appends, %.1f per group", e.suite.name, name, d.Commits, d.Groups, float64(d.Commits)/float64(d.Groups))
		}
	}
}

// sopLatency measures the latency of one committer's sequential commits.
func sopLatency(e *env, name string) (l latency, err error) {
	err = withSop(e, name, func(s *sopEngine) error {
		l, err = latencies(e, "sop", name, s.put)
		return err
	})
	return l, err
}
