package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults/check"
)

// Registers is the linearizability workload: clients read (linearizable
// reads), write and compare-and-set a few keys of store "reg" through
// random nodes, and every operation is recorded with its invocation and
// completion time for check.Linearizable. Each write puts a value no
// other write puts, so a version names a value, and a compare-and-set on
// the version of a value read is a compare-and-set on that value.
type Registers struct {
	Keys int

	mu  sync.Mutex
	ops []check.Op
}

const regStore = "reg"

// Setup creates the registers' store through node.
func (r *Registers) Setup(ctx context.Context, node *Node) error {
	_, err := node.Client.CreateStore(ctx, "default", regStore, nil)
	return err
}

// Run runs n clients until stop is called; stop waits for them.
func (r *Registers) Run(ctx context.Context, nodes []*Node, n int, seed uint64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 1000+uint64(c)))
			for i := 0; ctx.Err() == nil; i++ {
				node := nodes[rng.IntN(len(nodes))]
				if !node.Running() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				key := fmt.Sprintf("r%d", rng.IntN(r.Keys))
				switch p := rng.IntN(10); {
				case p < 4:
					r.get(ctx, node, c, key)
				case p < 8:
					r.put(ctx, node, c, key, fmt.Sprintf("c%d-%d", c, i))
				default:
					r.cas(ctx, node, c, key, fmt.Sprintf("c%d-%d", c, i))
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// Ops is the recorded history.
func (r *Registers) Ops() []check.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]check.Op(nil), r.ops...)
}

func (r *Registers) record(op check.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

// opTimeout bounds one operation; past it the outcome is unknown.
const opTimeout = 5 * time.Second

// get records a linearizable read; it returns what it read for cas.
func (r *Registers) get(ctx context.Context, node *Node, c int, key string) (it client.Item, found, ok bool) {
	op := check.Op{Client: c, Key: key, Kind: check.Get, Call: time.Now().UnixNano()}
	gctx, cancel := context.WithTimeout(ctx, opTimeout)
	it, err := node.Client.Get(gctx, "default", regStore, client.StringKey(key), client.GetOptions{Linearizable: true})
	cancel()
	op.Return = time.Now().UnixNano()
	var cerr *client.Error
	switch {
	case err == nil:
		var v string
		if json.Unmarshal(it.Value, &v) != nil {
			v = "not a string: " + string(it.Value)
		}
		op.Outcome, op.Found, op.Got = check.Ok, true, v
	case errors.As(err, &cerr) && cerr.Code == "key_not_found":
		op.Outcome = check.Ok
	default:
		op.Outcome = check.Unknown // a read that failed tells nothing
	}
	if ctx.Err() == nil || op.Outcome == check.Ok {
		r.record(op)
	}
	return it, op.Found, op.Outcome == check.Ok
}

func (r *Registers) put(ctx context.Context, node *Node, c int, key, value string) {
	op := check.Op{Client: c, Key: key, Kind: check.Put, Value: value, Call: time.Now().UnixNano()}
	pctx, cancel := context.WithTimeout(ctx, opTimeout)
	_, err := node.Client.Put(pctx, "default", regStore, client.StringKey(key), jsonString(value))
	cancel()
	op.Return = time.Now().UnixNano()
	op.Outcome = check.Ok
	if err != nil {
		op.Outcome = check.Unknown // it may have landed
	}
	r.record(op)
}

// cas reads key, then sets it to value if it still holds what was read.
func (r *Registers) cas(ctx context.Context, node *Node, c int, key, value string) {
	it, found, ok := r.get(ctx, node, c, key)
	if !ok || ctx.Err() != nil {
		return
	}
	op := check.Op{Client: c, Key: key, Kind: check.CAS, Value: value}
	cmp := client.Compare{Store: regStore, Key: client.StringKey(key)}
	if found {
		cmp.Version = it.Version
		if json.Unmarshal(it.Value, &op.Expect) != nil {
			return
		}
	} else {
		cmp.Absent, op.ExpectAbsent = true, true
	}
	op.Call = time.Now().UnixNano()
	tctx, cancel := context.WithTimeout(ctx, opTimeout)
	res, err := node.Client.Txn(tctx, "default", client.TxnRequest{
		Compare: []client.Compare{cmp},
		Success: []client.Op{client.OpPut(regStore, client.StringKey(key), jsonString(value))},
	})
	cancel()
	op.Return = time.Now().UnixNano()
	if err != nil {
		op.Outcome = check.Unknown
	} else {
		op.Outcome, op.Succeeded = check.Ok, res.Succeeded
	}
	r.record(op)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
