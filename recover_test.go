package sop_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/journal"
)

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// foreignWriter appends entries to a node's journal from outside, as a
// second leader would.
type foreignWriter struct {
	t      *testing.T
	conn   *journal.Conn
	stream *journal.Stream
}

func newForeignWriter(t *testing.T, addr string) *foreignWriter {
	conn, err := journal.Dial("nats://"+addr, journal.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	st, err := conn.Open(context.Background(), "default", journal.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &foreignWriter{t: t, conn: conn, stream: st}
}

// put appends one put of store/key at the journal's end and returns its seq.
func (w *foreignWriter) put(id, store, key, value string) uint64 {
	ctx := context.Background()
	_, last, err := w.stream.Bounds(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	e := journal.Entry{TxID: id, Domain: "default", Ops: []journal.Op{{Kind: journal.OpPut, Store: store, Key: []byte(key), Value: []byte(value)}}}
	data, err := e.MarshalBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	seq, err := w.stream.Append(ctx, last, []journal.Msg{{ID: id, Data: data}})
	if err != nil {
		w.t.Fatal(err)
	}
	return uint64(seq)
}

// TestFencedCommitCatchesUp: when another writer appended to the journal
// behind the leader's back, the leader's append is fenced; it applies the
// foreign entry, checks its transactions again, and commits those that do
// not conflict (a blind write) while one that read the key the foreign
// entry wrote is retried and then sees it.
func TestFencedCommitCatchesUp(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	db := openTest(t, "", func(o *sop.Options) { o.NATSListen = addr })
	mustCreateStore(t, db, "default", "s")
	w := newForeignWriter(t, addr)

	// A blind write is fenced, caught up and committed again by the leader
	// itself (Txn has no retry loop of its own).
	foreign := w.put("foreign-1", "s", "f1", "theirs")
	res, err := db.Txn(ctx, "default", sop.TxnRequest{Success: []sop.Op{{Store: "s", Key: []byte("mine"), Value: []byte("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Seq != foreign+1 {
		t.Fatalf("blind write committed at seq %d, want %d (after the foreign entry)", res.Seq, foreign+1)
	}

	// A transaction that read what the foreign entry wrote conflicts, and
	// its retry reads the foreign value.
	var attempts int
	var seen []string
	_, err = db.Update(ctx, "default", func(tx *sop.Tx) error {
		attempts++
		it, ok, err := tx.Get("s", []byte("f2"))
		if err != nil {
			return err
		}
		seen = append(seen, string(it.Value))
		if !ok {
			w.put("foreign-2", "s", "f2", "theirs")
		}
		return tx.Put("s", []byte("copy"), it.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || seen[0] != "" || seen[1] != "theirs" {
		t.Fatalf("attempts %d saw %q, want 2 attempts seeing \"\" then \"theirs\"", attempts, seen)
	}
	err = db.View(ctx, "default", func(tx *sop.Tx) error {
		for _, k := range []string{"f1", "f2", "mine", "copy"} {
			if _, ok, err := tx.Get("s", []byte(k)); err != nil || !ok {
				return errors.Join(err, errors.New("missing "+k))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRetriedTxnAfterRestart: after a restart the leader no longer knows a
// transaction id from before its checkpoint, but the journal's dedupe
// window still does: the retry is answered ErrAlreadyCommitted.
func TestRetriedTxnAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sop.Open(ctx, sop.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateStore(t, db, "default", "s")
	req := sop.TxnRequest{TxID: "client-1", Success: []sop.Op{{Store: "s", Key: []byte("k"), Value: []byte("v")}}}
	if _, err := db.Txn(ctx, "default", req); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // checkpoints: the reopen replays nothing
		t.Fatal(err)
	}
	db = openTest(t, dir)
	before, _ := db.Applied("default")
	if _, err := db.Txn(ctx, "default", req); !errors.Is(err, sop.ErrAlreadyCommitted) {
		t.Fatalf("retry after restart: %v, want ErrAlreadyCommitted", err)
	}
	// The other requests of a group with a duplicate still commit.
	if _, err := db.Txn(ctx, "default", sop.TxnRequest{Success: []sop.Op{{Store: "s", Key: []byte("k2"), Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.Applied("default"); after != before+1 {
		t.Fatalf("applied %d -> %d, want one new entry", before, after)
	}
}
