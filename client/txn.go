package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Compare is a condition on one item, evaluated at commit time against the
// newest state: set exactly one of Version (the item exists with this
// version), Absent (it does not exist) and Present (it exists, whatever its
// version).
type Compare struct {
	Store   string `json:"store"`
	Key     Key    `json:"key"`
	Version uint64 `json:"version,omitempty"`
	Absent  bool   `json:"absent,omitempty"`
	Present bool   `json:"present,omitempty"`
}

// Op is one write of a transaction.
type Op struct {
	Op    string `json:"op"` // "put" or "delete"
	Store string `json:"store"`
	// Key may be left zero in an index store's put: the value's indexed
	// fields give it.
	Key   Key             `json:"key,omitzero"`
	Value json.RawMessage `json:"value,omitempty"` // "put" only
}

// OpPut is the Op that sets key in store to value.
func OpPut(store string, key Key, value json.RawMessage) Op {
	return Op{Op: "put", Store: store, Key: key, Value: value}
}

// OpDelete is the Op that removes key from store.
func OpDelete(store string, key Key) Op {
	return Op{Op: "delete", Store: store, Key: key}
}

// TxnRequest is a compare-and-set transaction: if every Compare holds, the
// Success ops commit, else the Failure ops do.
type TxnRequest struct {
	Compare []Compare `json:"compare,omitempty"`
	Success []Op      `json:"success,omitempty"`
	Failure []Op      `json:"failure,omitempty"`
	// IdempotencyKey makes a retry of this transaction safe.
	IdempotencyKey string `json:"-"`
}

// TxnResult says which branch ran and at which seq (0 when the branch had
// no ops). AlreadyCommitted: the IdempotencyKey was committed before, at
// Seq; this request wrote nothing, and Succeeded is not known (false).
type TxnResult struct {
	Succeeded        bool   `json:"succeeded"`
	Seq              uint64 `json:"seq"`
	AlreadyCommitted bool   `json:"already_committed,omitempty"`
}

// Txn commits a compare-and-set transaction on domain, atomically and
// serializably.
func (c *Client) Txn(ctx context.Context, domain string, req TxnRequest) (TxnResult, error) {
	for i, op := range append(append([]Op(nil), req.Success...), req.Failure...) {
		if op.Op == "put" {
			if err := checkJSON(fmt.Sprintf("op %d's value", i), op.Value); err != nil {
				return TxnResult{}, err
			}
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return TxnResult{}, fmt.Errorf("%w: transaction: %w", ErrBadRequest, err)
	}
	return c.TxnJSON(ctx, domain, body, req.IdempotencyKey)
}

// TxnJSON commits a transaction given as the API's JSON body (see
// docs/API.md), as the CLI reads it from a file.
func (c *Client) TxnJSON(ctx context.Context, domain string, body json.RawMessage, idempotencyKey string) (TxnResult, error) {
	if err := checkJSON("transaction", body); err != nil {
		return TxnResult{}, err
	}
	if c.batch && idempotencyKey == "" {
		return c.batcherFor(domain).commit(ctx, body)
	}
	var res TxnResult
	r := request{method: http.MethodPost, path: path("domains", domain, "txn"), body: body, header: idempotency(idempotencyKey)}
	err := c.write(ctx, domain, r, &res, func() uint64 { return res.Seq })
	return res, err
}
