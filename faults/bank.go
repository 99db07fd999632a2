package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/faults/check"
)

// Bank is a bank-transfer workload: accounts in store "bank" of domain
// default, each transfer one compare-and-set transaction through a
// random node that moves an amount between two accounts (read at their
// versions on that node, so concurrent transfers conflict) and writes a
// marker item "t-<id>" with the transfer. Retries after an unknown
// outcome reuse the transfer's idempotency key, so a transfer is applied
// at most once whatever the faults.
type Bank struct {
	Accounts int
	Initial  int64 // each account's starting balance

	mu        sync.Mutex
	transfers []check.Transfer
}

const bankStore = "bank"

// account is the key of account i.
func account(i int) string { return fmt.Sprintf("acct-%02d", i) }

// Setup creates the bank store and the accounts through node.
func (b *Bank) Setup(ctx context.Context, node *Node) error {
	if _, err := node.Client.CreateStore(ctx, "default", bankStore, nil); err != nil {
		return err
	}
	var ops []client.Op
	for i := range b.Accounts {
		ops = append(ops, client.OpPut(bankStore, client.StringKey(account(i)), json.RawMessage(strconv.FormatInt(b.Initial, 10))))
	}
	_, err := node.Client.Txn(ctx, "default", client.TxnRequest{Success: ops})
	return err
}

// Run runs n transfer workers through the running nodes until stop is
// called; stop waits for them.
func (b *Bank) Run(ctx context.Context, nodes []*Node, n int, seed uint64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; ctx.Err() == nil; i++ {
				b.transfer(ctx, nodes, rng, fmt.Sprintf("t-%d-%06d", w, i))
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// transfer makes one transfer and records its outcome.
func (b *Bank) transfer(ctx context.Context, nodes []*Node, rng *rand.Rand, id string) {
	from, to := rng.IntN(b.Accounts), rng.IntN(b.Accounts-1)
	if to >= from {
		to++
	}
	amount := 1 + rng.Int64N(20)
	t := check.Transfer{ID: id, From: account(from), To: account(to), Amount: amount, Outcome: check.Failed}
	unknown := false
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		node := nodes[rng.IntN(len(nodes))]
		if !node.Running() {
			attempt--
			continue
		}
		res, err := b.try(ctx, node, t)
		switch {
		case err == nil && (res.Succeeded || res.AlreadyCommitted):
			t.Outcome = check.Ok
			b.record(t)
			return
		case err == nil || errors.Is(err, errNoFunds):
			// The compare failed (a conflict), or the money is short: this
			// attempt wrote nothing. An earlier attempt with an unknown
			// outcome may still land later.
			if unknown {
				t.Outcome = check.Unknown
			}
			b.record(t)
			return
		default:
			unknown = true
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Outcome = check.Unknown
	if !unknown {
		t.Outcome = check.Failed // never sent (the context ended)
	}
	b.record(t)
}

var errNoFunds = errors.New("not enough money")

// try reads both accounts on node and commits the transfer conditioned on
// their versions. A retry (same idempotency key) answers AlreadyCommitted
// when an earlier attempt landed.
func (b *Bank) try(ctx context.Context, node *Node, t check.Transfer) (client.TxnResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	from, err := node.Client.Get(ctx, "default", bankStore, client.StringKey(t.From))
	if err != nil {
		return client.TxnResult{}, err
	}
	to, err := node.Client.Get(ctx, "default", bankStore, client.StringKey(t.To))
	if err != nil {
		return client.TxnResult{}, err
	}
	fb, err1 := strconv.ParseInt(string(from.Value), 10, 64)
	tb, err2 := strconv.ParseInt(string(to.Value), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return client.TxnResult{}, fmt.Errorf("a balance is not a number: %w", err)
	}
	if fb < t.Amount {
		return client.TxnResult{}, errNoFunds
	}
	marker, _ := json.Marshal(map[string]any{"from": t.From, "to": t.To, "amount": t.Amount})
	return node.Client.Txn(ctx, "default", client.TxnRequest{
		Compare: []client.Compare{
			{Store: bankStore, Key: client.StringKey(t.From), Version: from.Version},
			{Store: bankStore, Key: client.StringKey(t.To), Version: to.Version},
		},
		Success: []client.Op{
			client.OpPut(bankStore, client.StringKey(t.From), json.RawMessage(strconv.FormatInt(fb-t.Amount, 10))),
			client.OpPut(bankStore, client.StringKey(t.To), json.RawMessage(strconv.FormatInt(tb+t.Amount, 10))),
			client.OpPut(bankStore, client.StringKey(t.ID), marker),
		},
		IdempotencyKey: t.ID,
	})
}

func (b *Bank) record(t check.Transfer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.transfers = append(b.transfers, t)
}

// Check reads the accounts and transfer markers on node (after a
// linearizable read, so it has applied the journal's end) and checks them
// with check.Bank.
func (b *Bank) Check(ctx context.Context, node *Node) (check.BankResult, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := node.Client.Get(lctx, "default", bankStore, client.StringKey(account(0)), client.GetOptions{Linearizable: true})
	cancel()
	if err != nil {
		return check.BankResult{}, fmt.Errorf("linearizable read on %s: %w", node.Name, err)
	}
	initial, final, applied := map[string]int64{}, map[string]int64{}, map[string]int{}
	for i := range b.Accounts {
		initial[account(i)] = b.Initial
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for it, err := range node.Client.Scan(sctx, "default", bankStore, client.ScanOptions{PageSize: 1000}) {
		if err != nil {
			return check.BankResult{}, fmt.Errorf("scan on %s: %w", node.Name, err)
		}
		key := it.Key.String()
		if strings.HasPrefix(key, "t-") {
			applied[key]++
			continue
		}
		v, err := strconv.ParseInt(string(it.Value), 10, 64)
		if err != nil {
			return check.BankResult{}, fmt.Errorf("account %s holds %s", key, it.Value)
		}
		final[key] = v
	}
	b.mu.Lock()
	transfers := append([]check.Transfer(nil), b.transfers...)
	b.mu.Unlock()
	return check.Bank(initial, transfers, final, applied, check.ForbidNegative()), nil
}
