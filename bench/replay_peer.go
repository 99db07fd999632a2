package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sopd/sop/journal"
	bolt "go.etcd.io/bbolt"
)

// consumeAll times reading domain "default"'s stream at url, which holds n entries,
// from seq 1 to seq n with an ordered consumer: connect, create the consumer, and
// count the messages delivered.
func consumeAll(e *env, name, url string, n int) (float64, error) {
	return e.measure("jetstream", name, n, replayRuns, func() error {
		nc, err := nats.Connect(url, nats.Name("bench consumer"))
		if err != nil {
			return err
		}
		defer nc.Close()
		return consume(nc, n)
	})
}

func consume(nc *nats.Conn, n int) error {
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	st, err := js.Stream(ctx, journal.StreamName(engineDomain))
	if err != nil {
		return err
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   1,
	})
	if err != nil {
		return err
	}
	var (
		count int
		next  = uint64(1)
		done  = make(chan error, 1)
	)
	finish := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			finish(err)
			return
		}
		switch seq := md.Sequence.Stream; {
		case seq < next: // redelivered after a consumer reset
			return
		case seq > next:
			finish(fmt.Errorf("ordered consumer delivered seq %d where %d was next", seq, next))
			return
		}
		count++
		next++
		if count == n {
			finish(nil)
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, nats.ErrConnectionClosed) {
			finish(err)
		}
	}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	if err := <-done; err != nil {
		return err
	}
	if count != n {
		return fmt.Errorf("consumed %d messages, want %d", count, n)
	}
	return nil
}

// bboltLoad times loading w's keys, in key order, into a fresh bbolt file, w.batch
// puts per durable transaction, from opening the file to closing it; then it checks
// the key count.
func bboltLoad(e *env, name string, w *workload) (float64, error) {
	dir, remove, err := caseDir(e, name, "bbolt")
	if err != nil {
		return 0, err
	}
	defer remove()
	order := make([]int, len(w.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(w.keys[a], w.keys[b]) })
	path := filepath.Join(dir, "bolt.db")
	rate, err := e.measure("bbolt", name, len(w.keys), 1, func() error {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			return err
		}
		err = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket(bboltBucket)
			return err
		})
		for lo := 0; lo < len(order) && err == nil; lo += w.batch {
			err = db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bboltBucket)
				for _, i := range order[lo:min(lo+w.batch, len(order))] {
					if err := bk.Put(w.keys[i], w.value(i)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return errors.Join(err, db.Close())
	})
	if err != nil {
		return 0, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return rate, db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bboltBucket).Stats().KeyN; got != len(w.keys) {
			return fmt.Errorf("bbolt: bucket holds %d keys, want %d", got, len(w.keys))
		}
		return nil
	})
}
