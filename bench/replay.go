package main

// Suite replay: how fast a sop node catches up, from its journal (replay on open)
// and from a snapshot (restore), against the raw rate of reading the same journal
// with JetStream's ordered consumer and against bbolt loading the same keys.
//
// Cases:
//
//	replay-vs-consume  An embedded nats-server (journal.StartServer, sync always,
//	        listening on loopback TCP) in a fresh directory gets -replay-entries
//	        (100,000) journal entries in domain "default"'s stream, appended with
//	        journal.Stream.Append in atomic batches of journal.MaxBatch, as sop's
//	        group commit would append them: entry 1 creates store "bench", every
//	        other one puts a random 16-byte key and a random 256-byte value (built like
//	        suite engine's peerEntry). sop: sop.Open on a fresh data directory with
//	        NATSURL set to the server's URL, which replays the whole journal before it
//	        returns; the time is that of the whole Open (its fixed cost - the Pebble
//	        checkpoint store, the connection, the stream lookup - included), then
//	        db.Applied must be the last seq and the store must hold every put.
//	        jetstream: nats.Connect to the same URL, then an ordered consumer
//	        (nats.go jetstream, default Consume options) from seq 1 until it has
//	        delivered the last seq, counting messages; connect and consumer
//	        creation included. Both: entries/s.
//	restore-vs-bbolt  A sop node (on its own embedded server, sync always) gets
//	        -restore-keys (1,000,000) random 16-byte keys with 100-byte values
//	        (btree suite's workload: same seed, same values) through db.Update, 1,000
//	        puts per transaction, and takes a snapshot with db.Snapshot into its
//	        directory store Dir/snapshots; the node is closed before the timing. sop:
//	        sop.Restore of that snapshot into a fresh data directory (read and check
//	        the file, bulk-load the B-tree, hash the loaded state and compare it with
//	        the snapshot's state hash, write and fsync the page file, save the
//	        checkpoint in Pebble with a sync). bbolt: open a fresh file, load the same
//	        keys with the same values in key order, -batch (1,000) puts per durable
//	        transaction (default options: NoSync false, fill percent 0.5), close.
//	        Both: keys/s. Afterwards sop is opened on the restored directory (on the
//	        node's journal server, whose journal ends at the snapshot's seq) and its
//	        store must hold every key; bbolt's bucket must too.
//
// Timing: replay-vs-consume runs each side replayRuns (3) times, sop into a fresh
// data directory each time, and counts the best run; restore-vs-bbolt runs each side
// once. Every run starts after a runtime.GC; the set-up is not timed. -cpuprofile
// profiles sop's side of each case.
//
// Durability: replay-vs-consume only reads a journal that is durable already
// (appended with sync always): sop's replay applies into its page cache (spilling
// pages to the page file, unsynced) and fsyncs nothing for the replayed entries -
// only the few Pebble syncs of creating a fresh data directory, part of Open's fixed
// cost; its checkpointer makes the state durable after Open returns - and the
// consumer writes nothing. restore-vs-bbolt ends, on both sides, with every key
// durable on disk when the timed call returns: sop fsyncs the page file and the
// checkpoint once at the end of the restore, bbolt fsyncs every batch.

import (
	"context"
	"fmt"
	"time"

	"github.com/sopd/sop/journal"
)

// Case names.
const (
	caseReplayConsume = "replay-vs-consume"
	caseRestoreBbolt  = "restore-vs-bbolt"
)

// restoreTxPuts is how many puts one set-up transaction of the restore case commits:
// an entry of about 125 KB, far under the journal's 8 MiB message limit.
const restoreTxPuts = 1000

func runReplay(e *env) ([]result, error) {
	c := e.cfg
	e.note("timing: replay-vs-consume best of %d runs per side (sop in a fresh data dir each), restore-vs-bbolt one run per side; each after a runtime.GC; set-up untimed", replayRuns)
	e.note("durability: replay-vs-consume reads a journal appended with sync always, and neither side fsyncs the data while timed (sop: only Pebble's syncs creating a fresh data dir); restore-vs-bbolt: every key durable when the timed call returns (sop: page file fdatasync + Pebble checkpoint sync at the end; bbolt: default options, two fdatasyncs per batch)")
	var out []result

	r, err := replayCase(e, c.replayN)
	if err != nil {
		return nil, err
	}
	out = append(out, r)

	if r, err = restoreCase(e, c.restoreN); err != nil {
		return nil, err
	}
	return append(out, r), nil
}

// replayCase fills a journal with n entries and measures sop's replay of it against
// an ordered consumer reading it.
func replayCase(e *env, n int) (result, error) {
	name := caseReplayConsume
	j, err := startJournal(e, name)
	if err != nil {
		return result{}, err
	}
	defer j.stop()
	start := time.Now()
	size, err := j.fill(n)
	if err != nil {
		return result{}, fmt.Errorf("%s: fill the journal: %w", name, err)
	}
	e.logf("%s %s: appended %d entries (%.1f MiB) in %v", e.suite.name, name, n, float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))
	entrySize := 0
	if m, err := peerEntry(newEntryGen(0), 1); err == nil {
		entrySize = len(m.Data)
	}
	e.note("replay-vs-consume: %d entries (1 create-store, %d puts of a random %d-byte key and %d-byte value; about %d bytes each, %.1f MiB in all) in an embedded nats-server's stream (sync always), read over loopback TCP; sop: sop.Open with NATSURL on a fresh data dir, its fixed cost included, default page size and cache; jetstream: nats.go ordered consumer, default Consume options, connect and consumer creation included; target sop/jetstream >= 0.5",
		n, n-1, engineKeySize, engineValueSize, entrySize, float64(size)/(1<<20))

	var sopRate, peerRate float64
	if e.runSop() {
		if sopRate, err = sopReplay(e, name, j.url, n); err != nil {
			return result{}, err
		}
	}
	if e.runPeer() {
		if peerRate, err = consumeAll(e, name, j.url, n); err != nil {
			return result{}, err
		}
	}
	r := newResult(e, name, "entries/s", sopRate, peerRate)
	r.Peer = "jetstream"
	return r, nil
}

// restoreCase builds a snapshot of n keys and measures sop's restore of it against
// bbolt loading the same keys.
func restoreCase(e *env, n int) (result, error) {
	name := caseRestoreBbolt
	w := newWorkload(n, e.cfg.batch)
	e.note("restore-vs-bbolt: %d random %d-byte keys (seed %d), %d-byte values (windows of one random 64 KiB pool, as in suite btree, so the S2-compressed snapshot is about half their size); sop: sop.Restore into a fresh data dir, default page size and cache; bbolt: the same keys in key order, %d puts per durable transaction, default options; target sop/bbolt >= 2.0",
		n, keySize, seed, valueSize, w.batch)
	var sopRate, peerRate float64
	var err error
	if e.runSop() {
		if sopRate, err = sopRestore(e, name, w); err != nil {
			return result{}, err
		}
	}
	if e.runPeer() {
		if peerRate, err = bboltLoad(e, name, w); err != nil {
			return result{}, err
		}
	}
	r := newResult(e, name, "keys/s", sopRate, peerRate)
	r.Peer = "bbolt"
	return r, nil
}

// benchJournal is an embedded nats-server listening on loopback TCP, holding domain
// "default"'s stream, as an external journal for sop nodes and the consumer.
type benchJournal struct {
	srv    *journal.Server
	conn   *journal.Conn
	stream *journal.Stream
	url    string
	remove func()
}

// startJournal starts a server with sync always in a fresh directory of case name,
// and opens domain "default"'s stream with the options sop uses.
func startJournal(e *env, name string) (*benchJournal, error) {
	dir, remove, err := caseDir(e, name, "journal")
	if err != nil {
		return nil, err
	}
	srv, err := journal.StartServer(journal.ServerOptions{Dir: dir, Listen: "127.0.0.1:-1", Sync: journal.SyncAlways})
	if err != nil {
		remove()
		return nil, err
	}
	j := &benchJournal{srv: srv, url: srv.ClientURL(), remove: remove}
	if j.conn, err = journal.Dial(j.url, journal.DialOptions{Name: "bench"}); err != nil {
		j.stop()
		return nil, err
	}
	if j.stream, err = j.conn.Open(context.Background(), engineDomain, journal.StreamOptions{}); err != nil {
		j.stop()
		return nil, err
	}
	return j, nil
}

// fill appends n entries to the stream: one creating store "bench", then n-1 puts,
// in atomic batches of journal.MaxBatch. It returns the bytes appended.
func (j *benchJournal) fill(n int) (int64, error) {
	g := newEntryGen(0)
	create := journal.Entry{
		TxID:   g.txID(),
		Domain: engineDomain,
		Node:   peerNode,
		Time:   time.Now().UnixNano(),
		Ops:    []journal.Op{{Kind: journal.OpCreateStore, Store: engineStore}},
	}
	data, err := create.MarshalBinary()
	if err != nil {
		return 0, err
	}
	msgs := []journal.Msg{{ID: create.TxID, Data: data}}
	var last journal.Seq
	var size int64
	flush := func() error {
		first, err := j.stream.Append(context.Background(), last, msgs)
		if err != nil {
			return err
		}
		if first != last+1 {
			return fmt.Errorf("append after seq %d stored from seq %d", last, first)
		}
		last += journal.Seq(len(msgs))
		for _, m := range msgs {
			size += int64(len(m.Data))
		}
		msgs = msgs[:0]
		return nil
	}
	for i := 1; i < n; i++ {
		if len(msgs) == journal.MaxBatch {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		// A blind write read at the seq before it, as sop's leader would record.
		m, err := peerEntry(g, uint64(i))
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, m)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if _, got, err := j.stream.Bounds(context.Background()); err != nil {
		return 0, err
	} else if got != journal.Seq(n) {
		return 0, fmt.Errorf("the stream ends at seq %d after appending %d entries", got, n)
	}
	return size, nil
}

func (j *benchJournal) stop() {
	if j.conn != nil {
		j.conn.Close()
	}
	j.srv.Shutdown()
	j.remove()
}

// replayRuns is how often each side of replay-vs-consume runs; the best
// run counts, as in suite btree, which damps this VM's swings.
const replayRuns = 3
