package sop

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sopd/sop/journal"
)

// TestApplyRecordsGapRollsBack: records that skip a seq make applying
// fail with ErrUnavailable, and undo what the batch applied: the domain's
// position goes back to its published seq (so following resumes there and
// loses nothing), whether the batch began with these records or was kept
// open across chunks by the replay at open.
func TestApplyRecordsGapRollsBack(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateStore(ctx, DefaultDomain, "s", nil); err != nil {
		t.Fatal(err)
	}
	d, err := db.domain(DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	// The leader loop is idle: nothing commits while the test applies.
	put := func(seq uint64, key string) decoded {
		id := newID()
		return decoded{
			rec:   journal.Record{Seq: journal.Seq(seq), ID: id},
			entry: journal.Entry{TxID: id, Domain: DefaultDomain, Ops: []journal.Op{{Kind: journal.OpPut, Store: "s", Key: []byte(key), Value: []byte(`1`)}}},
		}
	}
	get := func(key string) bool {
		found := false
		if err := db.View(ctx, DefaultDomain, func(tx *Tx) error {
			_, ok, err := tx.Get("s", []byte(key))
			found = ok
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return found
	}
	last := d.last

	if err := d.applyRecords([]decoded{put(last+1, "a"), put(last+3, "c")}, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("records with a gap: %v, want ErrUnavailable", err)
	}
	if d.last != last || get("a") {
		t.Fatalf("after the gap: position %d (want %d), a visible %v", d.last, last, get("a"))
	}

	// The replay at open keeps its batch across chunks; a gap in a later
	// chunk undoes the earlier ones too.
	d.opening = true
	if err := d.applyRecords([]decoded{put(last+1, "a")}, nil); err != nil || d.pending == nil {
		t.Fatalf("first chunk at open: %v, batch kept %v", err, d.pending != nil)
	}
	if err := d.applyRecords([]decoded{put(last+3, "c")}, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a chunk after a gap: %v, want ErrUnavailable", err)
	}
	d.opening = false
	if d.last != last || d.pending != nil || get("a") {
		t.Fatalf("after the gap at open: position %d (want %d), batch kept %v, a visible %v", d.last, last, d.pending != nil, get("a"))
	}

	// The domain goes on: the next commit takes the seq after the last
	// published one.
	seq, err := db.Update(ctx, DefaultDomain, func(tx *Tx) error { return tx.Put("s", []byte("b"), []byte(`2`)) })
	if err != nil || seq != last+1 {
		t.Fatalf("commit after the rolled back records: seq %d, %v; want %d", seq, err, last+1)
	}
}

// TestNewTxID: generated transaction ids are 32 hex digits, distinct from
// each other, from concurrent callers too, and share the process's prefix.
func TestNewTxID(t *testing.T) {
	const workers, each = 8, 2000
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				ids <- newTxID()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	prefix := hex.EncodeToString(txIDPrefix[:])
	for id := range ids {
		if len(id) != 32 || !strings.HasPrefix(id, prefix) {
			t.Fatalf("id %q: want 32 hex digits starting with the process's %s", id, prefix)
		}
		if _, err := hex.DecodeString(id); err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}
