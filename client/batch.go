package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Batched writes (Options.BatchWrites): concurrent Put, Delete and Txn
// calls of one domain travel together in POST /v1/domains/{d}/txns, one
// HTTP request (and, on the node, one submission to the group commit) for
// many transactions instead of one each. Each still commits or fails on
// its own and each call returns its own answer once its transaction is
// committed, exactly as without batching; only the transport is shared.
//
// A domain's writes queue in its batcher. While fewer than
// batchInFlight requests are out, a write is sent at once, with whatever
// queued before it (up to maxBatch); otherwise it waits for the next free
// request. A lone writer therefore sees no added latency, and many
// writers fill the requests.

const (
	maxBatch      = 1000 // transactions per request: the server's limit
	batchInFlight = 2    // requests out at once per domain
	// batchTimeout bounds one batch request; a caller's own ctx bounds
	// its wait.
	batchTimeout = 60 * time.Second
)

// batcher queues one domain's writes.
type batcher struct {
	c      *Client
	domain string

	mu      sync.Mutex
	queue   []*queued
	sending int // requests out
}

// queued is one write waiting for its answer.
type queued struct {
	body json.RawMessage // a txn body
	done chan struct{}
	res  TxnResult
	err  error
}

// batcherFor is domain's batcher.
func (c *Client) batcherFor(domain string) *batcher {
	c.batchMu.Lock()
	defer c.batchMu.Unlock()
	b := c.batchers[domain]
	if b == nil {
		if c.batchers == nil {
			c.batchers = map[string]*batcher{}
		}
		b = &batcher{c: c, domain: domain}
		c.batchers[domain] = b
	}
	return b
}

// commit queues a txn body and waits for its answer, or for ctx: a write
// given up on that way may still commit, like any request cut short.
func (b *batcher) commit(ctx context.Context, body json.RawMessage) (TxnResult, error) {
	if err := ctx.Err(); err != nil {
		return TxnResult{}, b.ended(err) // not queued: nothing is sent
	}
	q := &queued{body: body, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	if b.sending < batchInFlight {
		b.sending++
		go b.send()
	}
	b.mu.Unlock()
	select {
	case <-q.done:
		return q.res, q.err
	case <-ctx.Done():
		return TxnResult{}, b.ended(ctx.Err())
	}
}

// ended is the error of a write whose ctx ended with err.
func (b *batcher) ended(err error) error {
	return fmt.Errorf("client: POST %s: %w", path("domains", b.domain, "txns"), err)
}

// send sends what is queued, batch after batch, until the queue is empty.
func (b *batcher) send() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.sending--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.post(batch)
	}
}

// txnsAnswer is one transaction's answer in a batch: its result, or the
// error answer it would have had alone, with that answer's status.
type txnsAnswer struct {
	TxnResult
	errorBody
	Status int `json:"status"`
}

// post sends one batch and hands each write its answer.
func (b *batcher) post(batch []*queued) {
	var body bytes.Buffer
	body.WriteString(`{"txns":[`)
	for i, q := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(q.body)
	}
	body.WriteString(`]}`)
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var out struct {
		Results []txnsAnswer `json:"results"`
	}
	r := request{method: http.MethodPost, path: path("domains", b.domain, "txns"), body: body.Bytes()}
	err := b.c.write(ctx, b.domain, r, &out, func() uint64 {
		var last uint64
		for _, a := range out.Results {
			last = max(last, a.Seq)
		}
		return last
	})
	if err == nil && len(out.Results) != len(batch) {
		err = fmt.Errorf("client: POST %s: %d answers for %d transactions", r.path, len(out.Results), len(batch))
	}
	for i, q := range batch {
		switch {
		case err != nil:
			q.err = err
		case out.Results[i].Error != "":
			q.err = out.Results[i].toError(out.Results[i].Status)
		default:
			q.res = out.Results[i].TxnResult
		}
		close(q.done)
	}
}

// batchTxn is the txn body of a one-op write, with its condition.
type batchTxn struct {
	TxID    string    `json:"txid,omitempty"`
	Compare []Compare `json:"compare,omitempty"`
	Success []Op      `json:"success"`
}

// batchedWrite commits one op through domain's batcher as a txn, its
// condition as the txn's compare, and answers as Put and Delete do: the
// seq, or ErrConditionFailed when the compare did not hold.
func (c *Client) batchedWrite(ctx context.Context, domain string, op Op, cond Compare, txid string) (uint64, error) {
	t := batchTxn{TxID: txid, Success: []Op{op}}
	if cond.Version != 0 || cond.Absent {
		t.Compare = []Compare{cond}
	}
	body, err := json.Marshal(t)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrBadRequest, op.Op, err)
	}
	res, err := c.batcherFor(domain).commit(ctx, body)
	switch {
	case err != nil:
		return 0, err
	case res.AlreadyCommitted || res.Succeeded:
		return res.Seq, nil
	case cond.Absent:
		return 0, &Error{StatusCode: http.StatusConflict, Code: "condition_failed",
			Message: fmt.Sprintf("item %s exists (if_absent): nothing was written", op.Key.text)}
	}
	return 0, &Error{StatusCode: http.StatusConflict, Code: "condition_failed",
		Message: fmt.Sprintf("item %s is not at version %d (it is absent or was written since): nothing was written; read it again and retry", op.Key.text, cond.Version)}
}
