package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/sopd/sop/client"
	"github.com/sopd/sop/httpapi"
)

// TestBatchWrites: with BatchWrites, 200 goroutines' puts travel in far
// fewer requests than writes, and each call still gets its own answer:
// its seq (the item's version), or its own error.
func TestBatchWrites(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	ctx := ctxT(t)
	mustCreate(t, n.c, "s", nil)
	counter := &countingTransport{}
	c, err := client.New(n.srv.URL, client.Options{BatchWrites: true, HTTPClient: &http.Client{Transport: counter}})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 200
	seqs := make([]uint64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			seqs[i], errs[i] = c.Put(ctx, "default", "s", client.StringKey(fmt.Sprintf("k%03d", i)), json.RawMessage(fmt.Sprint(i)))
		})
	}
	wg.Wait()
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		it, err := n.c.Get(ctx, "default", "s", client.StringKey(fmt.Sprintf("k%03d", i)))
		if err != nil || it.Version != seqs[i] || string(it.Value) != fmt.Sprint(i) {
			t.Fatalf("put %d answered seq %d; the item is %+v, %v", i, seqs[i], it, err)
		}
	}
	if got := counter.n.Load(); got >= writers {
		t.Errorf("%d writers made %d requests: nothing was batched", writers, got)
	}
	t.Logf("%d puts in %d requests", writers, counter.n.Load())

	// Conditions and errors stay each write's own.
	k := client.StringKey("k000")
	if _, err := c.Put(ctx, "default", "s", k, json.RawMessage(`1`), client.PutOptions{IfAbsent: true}); !errors.Is(err, client.ErrConditionFailed) {
		t.Errorf("put if absent over an item: %v, want ErrConditionFailed", err)
	}
	if _, err := c.Put(ctx, "default", "s", k, json.RawMessage(`1`), client.PutOptions{IfVersion: seqs[0] + 1000}); !errors.Is(err, client.ErrConditionFailed) {
		t.Errorf("put at a wrong version: %v, want ErrConditionFailed", err)
	}
	if _, err := c.Delete(ctx, "default", "s", k, client.DeleteOptions{IfVersion: seqs[0] + 1000}); !errors.Is(err, client.ErrConditionFailed) {
		t.Errorf("delete at a wrong version: %v, want ErrConditionFailed", err)
	}
	seq, err := c.Put(ctx, "default", "s", k, json.RawMessage(`"v2"`), client.PutOptions{IfVersion: seqs[0], IdempotencyKey: "once"})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Put(ctx, "default", "s", k, json.RawMessage(`"v3"`), client.PutOptions{IdempotencyKey: "once"}); err != nil || again != seq {
		t.Errorf("retried idempotency key: %d, %v; want %d, nil", again, err, seq)
	}
	if _, err := c.Put(ctx, "default", "nope", k, json.RawMessage(`1`)); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("put into a missing store: %v, want ErrNotFound", err)
	}
	if _, err := c.Put(ctx, "nope", "s", k, json.RawMessage(`1`)); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("put into a missing domain: %v, want ErrNotFound", err)
	}
	if _, err := c.TxnJSON(ctx, "default", json.RawMessage(`[1]`), ""); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("a txn body that is not an object: %v, want ErrBadRequest", err)
	}
	res, err := c.Txn(ctx, "default", client.TxnRequest{
		Compare: []client.Compare{{Store: "s", Key: k, Version: seq}},
		Success: []client.Op{client.OpDelete("s", k)},
	})
	if err != nil || !res.Succeeded || res.Seq <= seq {
		t.Fatalf("txn: %+v, %v", res, err)
	}
	if _, err := n.c.Get(ctx, "default", "s", k); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("k000 after the txn deleted it: %v", err)
	}
	if seq, err := c.Delete(ctx, "default", "s", client.StringKey("k001")); err != nil || seq <= res.Seq {
		t.Errorf("delete: %d, %v", seq, err)
	}
}

// TestBatchWriteContextEnds: a batched write whose ctx has ended returns
// the ctx's error and is not sent.
func TestBatchWriteContextEnds(t *testing.T) {
	n := newNode(t, httpapi.Options{})
	mustCreate(t, n.c, "s", nil)
	c, err := client.New(n.srv.URL, client.Options{BatchWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if _, err := c.Put(ctx, "default", "s", client.StringKey("k"), json.RawMessage(`1`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with an ended ctx: %v, want context.Canceled", err)
	}
	if _, err := n.c.Get(ctxT(t), "default", "s", client.StringKey("k")); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("the put whose ctx had ended was sent: %v", err)
	}
}
