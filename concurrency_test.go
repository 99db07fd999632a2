package sop_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/internal/testseed"
)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(t *sop.Tx, store string, key []byte) (uint64, error) {
	it, ok, err := t.Get(store, key)
	if err != nil || !ok {
		return 0, fmt.Errorf("get %s: found %v: %w", key, ok, err)
	}
	return binary.BigEndian.Uint64(it.Value), nil
}

// TestTransfers moves money between accounts from many goroutines; with
// serializable transactions the total never changes, in any snapshot.
func TestTransfers(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(testseed.Seed(t)), 1))
	db := openTest(t, "", func(o *sop.Options) { o.MaxRetries = 1000 })
	mustCreateStore(t, db, "default", "acct")
	const accounts, initial, workers, transfers = 10, 1000, 16, 40
	_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
		for i := range accounts {
			if err := tx.Put("acct", fmt.Appendf(nil, "a%d", i), u64(initial)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seeds := make([]uint64, workers)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	var wg sync.WaitGroup
	var done atomic.Int64
	errc := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seeds[w], 2))
			for range transfers {
				from, to := r.IntN(accounts), r.IntN(accounts)
				amount := uint64(r.IntN(50))
				_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
					a, err := getU64(tx, "acct", fmt.Appendf(nil, "a%d", from))
					if err != nil {
						return err
					}
					b, err := getU64(tx, "acct", fmt.Appendf(nil, "a%d", to))
					if err != nil {
						return err
					}
					if from == to || a < amount {
						return nil
					}
					if err := tx.Put("acct", fmt.Appendf(nil, "a%d", from), u64(a-amount)); err != nil {
						return err
					}
					return tx.Put("acct", fmt.Appendf(nil, "a%d", to), u64(b+amount))
				})
				if err != nil {
					errc <- err
					return
				}
				done.Add(1)
			}
		})
	}
	// A reader checks the invariant while transfers run.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := checkTotal(ctx, db, accounts, accounts*initial); err != nil {
				errc <- err
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := checkTotal(ctx, db, accounts, accounts*initial); err != nil {
		t.Fatal(err)
	}
	if done.Load() != workers*transfers {
		t.Fatalf("%d transfers done, want %d", done.Load(), workers*transfers)
	}
}

func checkTotal(ctx context.Context, db *sop.DB, accounts int, want uint64) error {
	return db.View(ctx, "default", func(tx *sop.Tx) error {
		var total uint64
		n := 0
		for it, err := range tx.Scan("acct", sop.Range{}) {
			if err != nil {
				return err
			}
			total += binary.BigEndian.Uint64(it.Value)
			n++
		}
		if total != want || n != accounts {
			return fmt.Errorf("at seq %d: %d accounts hold %d, want %d accounts holding %d", tx.ReadVersion(), n, total, accounts, want)
		}
		return nil
	})
}

// TestDisjointInsertsIntoFreshStore: writers that each read-then-insert
// their own keys into a brand-new store never conflict, so all commit
// without a retry and the count is exact.
func TestDisjointInsertsIntoFreshStore(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "", func(o *sop.Options) { o.MaxRetries = -1 })
	mustCreateStore(t, db, "default", "fresh")
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Appendf(nil, "w%02d-%03d", w, i)
				_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
					if _, ok, err := tx.Get("fresh", key); err != nil || ok {
						return fmt.Errorf("key %s: exists %v: %v", key, ok, err)
					}
					return tx.Put("fresh", key, []byte("x"))
				})
				if err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("a disjoint insert failed (no retries allowed): %v", err)
	}
	stores, _, err := db.Stores("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 1 || stores[0].Count != workers*each {
		t.Fatalf("stores %+v, want one with %d items", stores, workers*each)
	}
}

// TestSameKeyOneWinsPerRound: two writers that read a key and write it,
// both at the same read version, cannot both commit.
func TestSameKeyOneWinsPerRound(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "", func(o *sop.Options) { o.MaxRetries = -1 })
	mustCreateStore(t, db, "default", "s")
	key := []byte("k")
	for round := range 20 {
		// Both read at the same version: the barrier holds each inside
		// its transaction until both have read.
		var barrier sync.WaitGroup
		barrier.Add(2)
		results := make([]error, 2)
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				first := true
				_, results[w] = db.Update(ctx, "default", func(tx *sop.Tx) error {
					if _, _, err := tx.Get("s", key); err != nil {
						return err
					}
					if first {
						first = false
						barrier.Done()
						barrier.Wait()
					}
					return tx.Put("s", key, fmt.Appendf(nil, "r%d-w%d", round, w))
				})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, sop.ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1 (errors %v)", round, won, results)
		}
	}
}
