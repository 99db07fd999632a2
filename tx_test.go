package sop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/internal/testseed"
)

// TestTxModel runs random transactions of puts, deletes, gets and bounded
// scans both ways, comparing every read inside the transaction (its own
// writes included) with a model, and the committed state after each.
func TestTxModel(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(testseed.Seed(t)), 4))
	db := openTest(t, "")
	mustCreateStore(t, db, "default", "m")
	committed := map[string]string{}
	key := func() string { return fmt.Sprintf("k%03d", rng.IntN(120)) }
	for round := range 60 {
		model := maps.Clone(committed)
		abort := rng.IntN(6) == 0
		errAbort := errors.New("abort")
		_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			for range 1 + rng.IntN(40) {
				if err := step(tx, rng, model, key); err != nil {
					return fmt.Errorf("round %d: %w", round, err)
				}
			}
			if abort {
				return errAbort
			}
			return nil
		})
		switch {
		case abort && !errors.Is(err, errAbort):
			t.Fatalf("round %d: aborted tx returned %v", round, err)
		case abort:
		case err != nil:
			t.Fatal(err)
		default:
			committed = model
		}
		err = db.View(ctx, "default", func(tx *sop.Tx) error {
			return compareScan(tx, committed, sop.Range{})
		})
		if err != nil {
			t.Fatalf("round %d after commit: %v", round, err)
		}
	}
}

func step(tx *sop.Tx, rng *rand.Rand, model map[string]string, key func() string) error {
	switch r := rng.IntN(100); {
	case r < 40:
		k, v := key(), fmt.Sprint(rng.Uint32())
		model[k] = v
		return tx.Put("m", []byte(k), []byte(v))
	case r < 55:
		k := key()
		delete(model, k)
		return tx.Delete("m", []byte(k))
	case r < 80:
		k := key()
		it, ok, err := tx.Get("m", []byte(k))
		if err != nil {
			return err
		}
		want, wok := model[k]
		if ok != wok || string(it.Value) != want {
			return fmt.Errorf("get %s = %q %v, want %q %v", k, it.Value, ok, want, wok)
		}
		return nil
	default:
		var rg sop.Range
		if rng.IntN(2) == 0 {
			rg.Start = []byte(key())
		}
		if rng.IntN(2) == 0 {
			rg.End = []byte(key())
		}
		rg.Reverse = rng.IntN(2) == 0
		return compareScan(tx, model, rg)
	}
}

// compareScan scans rg and compares with the model's keys in range.
func compareScan(tx *sop.Tx, model map[string]string, rg sop.Range) error {
	var want []string
	for k := range model {
		if (rg.Start == nil || k >= string(rg.Start)) && (rg.End == nil || k < string(rg.End)) {
			want = append(want, k+"="+model[k])
		}
	}
	slices.Sort(want)
	if rg.Reverse {
		slices.Reverse(want)
	}
	var got []string
	for it, err := range tx.Scan("m", rg) {
		if err != nil {
			return err
		}
		got = append(got, string(it.Key)+"="+string(it.Value))
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("scan %q..%q reverse %v:\n got %v\nwant %v", rg.Start, rg.End, rg.Reverse, got, want)
	}
	return nil
}

// TestScanStopEarlyDoesNotConflict: a scan that stops early reads only
// what it returned, so a write beyond that point does not conflict, while a
// write inside it does.
func TestScanStopEarlyDoesNotConflict(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "", func(o *sop.Options) { o.MaxRetries = -1 })
	mustCreateStore(t, db, "default", "s")
	mustCreateStore(t, db, "default", "out")
	_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
		for _, k := range []string{"a", "b", "c", "d"} {
			if err := tx.Put("s", []byte(k), []byte("0")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		reverse  bool
		other    string // written concurrently
		conflict bool
	}{
		{false, "d", false}, {false, "b", true}, {false, "bb", false},
		{true, "a", false}, {true, "c", true}, {true, "bb", false}, {true, "e", true},
	} {
		_, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			n := 0
			for _, err := range tx.Scan("s", sop.Range{Reverse: c.reverse}) {
				if err != nil {
					return err
				}
				if n++; n == 2 { // forward: read a, b; reverse: d, c
					break
				}
			}
			// Another writer commits between this transaction's reads and its commit.
			if _, err := db.Update(ctx, "default", func(o *sop.Tx) error { return o.Put("s", []byte(c.other), []byte("1")) }); err != nil {
				return err
			}
			return tx.Put("out", []byte("z"), []byte("x"))
		})
		if got := errors.Is(err, sop.ErrConflict); got != c.conflict || err != nil && !got {
			t.Errorf("reverse %v, concurrent write of %q: err %v, want conflict %v", c.reverse, c.other, err, c.conflict)
		}
	}
}

func TestTxn(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	mustCreateStore(t, db, "default", "s")
	k := []byte("k")
	res, err := db.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: k, Absent: true}},
		Success: []sop.Op{{Store: "s", Key: k, Value: []byte("v1")}},
	})
	if err != nil || !res.Succeeded || res.Seq == 0 {
		t.Fatalf("create if absent: %+v %v", res, err)
	}
	v1 := res.Seq
	res, err = db.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: k, Absent: true}},
		Success: []sop.Op{{Store: "s", Key: k, Value: []byte("again")}},
	})
	if err != nil || res.Succeeded || res.Seq != 0 {
		t.Fatalf("second create if absent: %+v %v, want not succeeded, seq 0", res, err)
	}
	res, err = db.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: k, Version: v1 + 100}},
		Success: []sop.Op{{Store: "s", Key: k, Value: []byte("wrong")}},
		Failure: []sop.Op{{Store: "s", Key: []byte("failed"), Value: []byte("yes")}},
	})
	if err != nil || res.Succeeded || res.Seq == 0 {
		t.Fatalf("stale version with a failure branch: %+v %v", res, err)
	}
	res, err = db.Txn(ctx, "default", sop.TxnRequest{
		Compare: []sop.Compare{{Store: "s", Key: k, Version: v1}, {Store: "s", Key: []byte("failed"), Present: true}},
		Success: []sop.Op{{Store: "s", Key: k, Value: []byte("v2")}, {Store: "s", Key: []byte("failed"), Delete: true}},
	})
	if err != nil || !res.Succeeded {
		t.Fatalf("compare-and-set: %+v %v", res, err)
	}
	err = db.View(ctx, "default", func(tx *sop.Tx) error {
		it, ok, err := tx.Get("s", k)
		if err != nil || !ok || string(it.Value) != "v2" || it.Version != res.Seq {
			return fmt.Errorf("k = %q@%d %v %v, want v2@%d", it.Value, it.Version, ok, err, res.Seq)
		}
		if _, ok, _ := tx.Get("s", []byte("failed")); ok {
			return errors.New("failed still exists")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same transaction id is recognised.
	req := sop.TxnRequest{TxID: "client-tx-1", Success: []sop.Op{{Store: "s", Key: []byte("once"), Value: []byte("1")}}}
	first, err := db.Txn(ctx, "default", req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Txn(ctx, "default", req); !errors.Is(err, sop.ErrAlreadyCommitted) {
		t.Fatalf("retry of committed tx %s (seq %d): %v, want ErrAlreadyCommitted", req.TxID, first.Seq, err)
	}
	// Also when the retry would take the other branch and append nothing.
	cas := sop.TxnRequest{TxID: "client-tx-2",
		Compare: []sop.Compare{{Store: "s", Key: []byte("new"), Absent: true}},
		Success: []sop.Op{{Store: "s", Key: []byte("new"), Value: []byte("1")}}}
	if res, err := db.Txn(ctx, "default", cas); err != nil || !res.Succeeded {
		t.Fatalf("first put-if-absent: %+v %v", res, err)
	}
	if res, err := db.Txn(ctx, "default", cas); !errors.Is(err, sop.ErrAlreadyCommitted) {
		t.Fatalf("retried put-if-absent: %+v %v, want ErrAlreadyCommitted", res, err)
	}
	if _, err := db.CreateStore(ctx, "default", "idx", index.Spec{{Name: "f"}}); err != nil {
		t.Fatal(err)
	}
	_, err = db.Txn(ctx, "default", sop.TxnRequest{Success: []sop.Op{{Store: "idx", Key: []byte("raw"), Value: []byte("{}")}}})
	if !errors.Is(err, sop.ErrBadIndex) {
		t.Fatalf("Txn put of a raw key into an index store: %v, want ErrBadIndex", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	mustCreateStore(t, db, "default", "s")
	put := func(store string, key, value []byte) error {
		_, err := db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put(store, key, value) })
		return err
	}
	var leaked *sop.Tx
	_ = db.View(ctx, "default", func(tx *sop.Tx) error { leaked = tx; return nil })
	cases := []struct {
		name string
		err  error
		want error
		says string
	}{
		{"unknown domain", db.View(ctx, "nope", func(*sop.Tx) error { return nil }), sop.ErrDomainNotFound, "nope"},
		{"bad domain name", db.View(ctx, "a b", func(*sop.Tx) error { return nil }), sop.ErrBadName, "a b"},
		{"unknown store", put("missing", []byte("k"), nil), sop.ErrStoreNotFound, "missing"},
		{"empty store name", put("", []byte("k"), nil), sop.ErrBadName, "empty"},
		{"empty key", put("s", nil, nil), sop.ErrBadKey, "empty"},
		{"long key", put("s", make([]byte, sop.MaxKeySize+1), nil), sop.ErrBadKey, "4097"},
		{"write in View", db.View(ctx, "default", func(tx *sop.Tx) error { return tx.Put("s", []byte("k"), nil) }), sop.ErrReadOnly, ""},
		{"tx used after its function", func() error { _, _, err := leaked.Get("s", []byte("k")); return err }(), sop.ErrTxDone, ""},
		{"too large for the journal", put("s", []byte("k"), make([]byte, 9<<20)), sop.ErrTooLarge, "max_payload"},
		{"bad compare", func() error {
			_, err := db.Txn(ctx, "default", sop.TxnRequest{Compare: []sop.Compare{{Store: "s", Key: []byte("k"), Absent: true, Version: 3}}})
			return err
		}(), sop.ErrBadTxn, "exactly one"},
		{"bad domain to create", func() error { _, err := db.CreateDomain(ctx, "x.y"); return err }(), sop.ErrBadName, "x.y"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) || !strings.Contains(fmt.Sprint(c.err), c.says) {
			t.Errorf("%s: err %v, want %v mentioning %q", c.name, c.err, c.want, c.says)
		}
	}
}

func TestDomains(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir)
	created, err := db.CreateDomain(ctx, "orders")
	if err != nil || !created {
		t.Fatalf("create domain: %v %v", created, err)
	}
	if created, err := db.CreateDomain(ctx, "orders"); err != nil || created {
		t.Fatalf("create again: %v %v, want false nil", created, err)
	}
	mustCreateStore(t, db, "orders", "o")
	if _, err := db.Update(ctx, "orders", func(tx *sop.Tx) error { return tx.Put("o", []byte("1"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if got := db.Domains(); !slices.Equal(got, []string{"default", "orders"}) {
		t.Fatalf("domains %v", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	err = db.View(ctx, "orders", func(tx *sop.Tx) error {
		it, ok, err := tx.Get("o", []byte("1"))
		if err != nil || !ok || !bytes.Equal(it.Value, []byte("x")) {
			return fmt.Errorf("after reopen: %q %v %v", it.Value, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := db.Applied("default"); seq != 0 {
		t.Fatalf("default domain applied %d, want 0: domains share no journal", seq)
	}
}
