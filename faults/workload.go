package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sopd/sop/client"
)

// Ledger records the outcome of every write a workload sent: acknowledged
// (with the seq the node answered), or unknown (an error after sending:
// it may or may not have landed). After the run every acknowledged write
// must be on every node with its seq; an unknown one may be there or not.
type Ledger struct {
	mu      sync.Mutex
	acked   map[string]uint64
	unknown map[string]error
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{acked: map[string]uint64{}, unknown: map[string]error{}}
}

// Counts is how many writes were acknowledged and how many have an
// unknown outcome.
func (l *Ledger) Counts() (acked, unknown int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), len(l.unknown)
}

// Writers runs n writers until ctx ends or stop is called. Each puts new
// keys "<prefix>-<writer>-<i>" into store of domain default, one at a
// time, through the running nodes in turn, and records each outcome in
// l. stop waits for the writers to finish.
func Writers(ctx context.Context, nodes []*Node, n int, store, prefix string, l *Ledger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				node := nodes[(w+i)%len(nodes)]
				if !node.Running() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				key := fmt.Sprintf("%s-%d-%06d", prefix, w, i)
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				seq, err := node.Client.Put(wctx, "default", store, client.StringKey(key), json.RawMessage(fmt.Sprint(i)))
				wcancel()
				l.mu.Lock()
				if err == nil {
					l.acked[key] = seq
				} else {
					l.unknown[key] = err
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond) // a failover: do not spin
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// Check reads every key of the ledger's store on node (waiting for it to
// apply the journal's end first) and returns an error naming each
// acknowledged write that is missing or has another version.
func (l *Ledger) Check(ctx context.Context, node *Node, store string) error {
	l.mu.Lock()
	acked := make(map[string]uint64, len(l.acked))
	for k, v := range l.acked {
		acked[k] = v
	}
	l.mu.Unlock()
	// A linearizable read first: the node applies the journal's end.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := node.Client.Get(lctx, "default", store, client.StringKey("\x00sync"), client.GetOptions{Linearizable: true})
	cancel()
	var cerr *client.Error
	if err != nil && !(errors.As(err, &cerr) && cerr.Code == "key_not_found") {
		return fmt.Errorf("linearizable read on %s: %w", node.Name, err)
	}
	got := map[string]uint64{}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for it, err := range node.Client.Scan(sctx, "default", store, client.ScanOptions{PageSize: 1000}) {
		if err != nil {
			return fmt.Errorf("scan %s on %s: %w", store, node.Name, err)
		}
		got[it.Key.String()] = it.Version
	}
	var lost []string
	for k, seq := range acked {
		if v, ok := got[k]; !ok || v != seq {
			lost = append(lost, fmt.Sprintf("%s (acknowledged at seq %d, found version %d)", k, seq, v))
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		return fmt.Errorf("%s lost %d of %d acknowledged writes: %s", node.Name, len(lost), len(acked), strings.Join(lost[:min(len(lost), 10)], ", "))
	}
	return nil
}
