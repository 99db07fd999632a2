package replay_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/replay"
)

func filled(t *testing.T, n int) *journal.Memory {
	t.Helper()
	m := journal.NewMemory(journal.MemoryOptions{})
	for i := 0; i < n; {
		var msgs []journal.Msg
		for j := 0; j < 7 && i < n; j++ {
			i++
			msgs = append(msgs, journal.Msg{ID: fmt.Sprint("tx", i), Data: []byte(fmt.Sprint(i))})
		}
		if _, err := m.Append(context.Background(), journal.Seq(i-len(msgs)), msgs); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestRunAppliesInOrder: every record from the start seq to the last is
// applied once, in order, in chunks no larger than asked, and the final
// report says done.
func TestRunAppliesInOrder(t *testing.T) {
	m := filled(t, 2500)
	var got []journal.Seq
	var reports []replay.Progress
	p, err := replay.Run(context.Background(), m, 11, func(recs []journal.Record) error {
		if len(recs) > 300 {
			return fmt.Errorf("a chunk of %d records", len(recs))
		}
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		return nil
	}, replay.Options{Chunk: 300, Report: func(p replay.Progress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2490 || got[0] != 11 || got[len(got)-1] != 2500 {
		t.Fatalf("applied %d records, %v..%v", len(got), got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("seq %d after %d", got[i], got[i-1])
		}
	}
	if p.Applied != 2500 || p.Entries != 2490 || p.Lag() != 0 || !p.Done {
		t.Fatalf("progress %+v", p)
	}
	if last := reports[len(reports)-1]; !last.Done || last.Applied != 2500 {
		t.Fatalf("last report %+v", last)
	}
}

// TestRunStops: an apply error stops the replay; a start below the first
// retained seq is the journal's CompactedError; nothing to do is done.
func TestRunStops(t *testing.T) {
	ctx := context.Background()
	m := filled(t, 100)
	boom := errors.New("boom")
	n := 0
	_, err := replay.Run(ctx, m, 1, func(recs []journal.Record) error {
		n += len(recs)
		if n >= 50 {
			return boom
		}
		return nil
	}, replay.Options{Chunk: 10})
	if !errors.Is(err, boom) {
		t.Fatalf("Run after an apply error = %v", err)
	}
	if err := m.Purge(ctx, 40); err != nil {
		t.Fatal(err)
	}
	_, err = replay.Run(ctx, m, 5, func([]journal.Record) error { return nil }, replay.Options{})
	var cerr *journal.CompactedError
	if !errors.As(err, &cerr) || cerr.First != 40 {
		t.Fatalf("Run from a purged seq = %v", err)
	}
	p, err := replay.Run(ctx, m, 101, func([]journal.Record) error { t.Fatal("applied nothing to apply"); return nil }, replay.Options{})
	if err != nil || !p.Done || p.Entries != 0 {
		t.Fatalf("Run at the end: %+v, %v", p, err)
	}
}
