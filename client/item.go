package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Item is one stored item. Version is the seq of the transaction that last
// wrote it.
type Item struct {
	Key     Key             `json:"key,omitzero"`
	Value   json.RawMessage `json:"value,omitempty"`
	Version uint64          `json:"version"`
	// KeyBase64 and ValueBase64 replace Key and Value for data written
	// through the Go API that the HTTP API cannot show as they are: a key
	// that is not UTF-8, a value that is not JSON (standard base64).
	KeyBase64   string `json:"key_base64,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
}

// GetOptions tune Get.
type GetOptions struct {
	// MinSeq makes the node wait until it has applied this seq (for
	// example the seq of your own last write) before it reads.
	MinSeq uint64
	// Linearizable makes the node learn the journal's last seq and wait
	// until it has applied it, so the read sees every write acknowledged
	// before it began, on any node.
	Linearizable bool
}

// PutOptions tune Put and PutDoc.
type PutOptions struct {
	// IfVersion commits only if the item exists with this version;
	// otherwise ErrConditionFailed.
	IfVersion uint64
	// IfAbsent commits only if the item does not exist; otherwise
	// ErrConditionFailed.
	IfAbsent bool
	// IdempotencyKey makes a retry of this write safe: the server commits
	// a key it has seen only once.
	IdempotencyKey string
}

// DeleteOptions tune Delete.
type DeleteOptions struct {
	IfVersion      uint64 // as PutOptions.IfVersion
	IdempotencyKey string // as PutOptions.IdempotencyKey
}

// last returns the last of opts, or the zero value. Each call takes at most
// one options value; should a caller pass more, the last one counts.
func last[T any](opts []T) T {
	var zero T
	if len(opts) == 0 {
		return zero
	}
	return opts[len(opts)-1]
}

func itemPath(domain, store string, key Key) string {
	return path("domains", domain, "stores", store, "items", key.text)
}

// Get returns the item at key in store; ErrNotFound when it is absent.
func (c *Client) Get(ctx context.Context, domain, store string, key Key, opts ...GetOptions) (Item, error) {
	if err := key.check(); err != nil {
		return Item{}, err
	}
	o := last(opts)
	q := url.Values{}
	if n := c.readSeq(domain, o.MinSeq, o.Linearizable); n > 0 {
		q.Set("min_seq", strconv.FormatUint(n, 10))
	}
	if o.Linearizable {
		q.Set("linearizable", "true")
	}
	var it Item
	_, err := c.call(ctx, request{method: http.MethodGet, path: itemPath(domain, store, key), query: q}, &it)
	return it, err
}

// Put sets key in store to value, which must be one JSON value, and
// returns the commit's seq (the item's new version).
func (c *Client) Put(ctx context.Context, domain, store string, key Key, value json.RawMessage, opts ...PutOptions) (uint64, error) {
	if err := key.check(); err != nil {
		return 0, err
	}
	if err := checkJSON("value", value); err != nil {
		return 0, err
	}
	q, o, err := putQuery(opts)
	if err != nil {
		return 0, err
	}
	if c.batch {
		cond := Compare{Store: store, Key: key, Version: o.IfVersion, Absent: o.IfAbsent}
		return c.batchedWrite(ctx, domain, OpPut(store, key, value), cond, o.IdempotencyKey)
	}
	r := request{method: http.MethodPut, path: itemPath(domain, store, key), query: q, body: value, header: idempotency(o.IdempotencyKey)}
	return c.seq(ctx, domain, r)
}

// Delete removes key from store and returns the commit's seq. Deleting an
// absent item is not an error.
func (c *Client) Delete(ctx context.Context, domain, store string, key Key, opts ...DeleteOptions) (uint64, error) {
	if err := key.check(); err != nil {
		return 0, err
	}
	o := last(opts)
	if c.batch {
		return c.batchedWrite(ctx, domain, OpDelete(store, key), Compare{Store: store, Key: key, Version: o.IfVersion}, o.IdempotencyKey)
	}
	q := url.Values{}
	if o.IfVersion > 0 {
		q.Set("if_version", strconv.FormatUint(o.IfVersion, 10))
	}
	r := request{method: http.MethodDelete, path: itemPath(domain, store, key), query: q, header: idempotency(o.IdempotencyKey)}
	return c.seq(ctx, domain, r)
}

// PutDoc puts JSON object doc into store, which must have an index, under
// the key its index builds from the document's fields, and returns the
// commit's seq and that key. The conditions of opts apply to that key.
func (c *Client) PutDoc(ctx context.Context, domain, store string, doc json.RawMessage, opts ...PutOptions) (uint64, Key, error) {
	if err := checkJSON("document", doc); err != nil {
		return 0, Key{}, err
	}
	q, o, err := putQuery(opts)
	if err != nil {
		return 0, Key{}, err
	}
	r := request{method: http.MethodPost, path: path("domains", domain, "stores", store, "items"), query: q, body: doc, header: idempotency(o.IdempotencyKey)}
	var out struct {
		Seq uint64 `json:"seq"`
		Key Key    `json:"key"`
	}
	err = c.write(ctx, domain, r, &out, func() uint64 { return out.Seq })
	return out.Seq, out.Key, err
}

// putQuery is the query of a write's conditions.
func putQuery(opts []PutOptions) (url.Values, PutOptions, error) {
	o := last(opts)
	if o.IfAbsent && o.IfVersion != 0 {
		return nil, o, fmt.Errorf("%w: set IfVersion or IfAbsent, not both", ErrBadRequest)
	}
	q := url.Values{}
	if o.IfVersion > 0 {
		q.Set("if_version", strconv.FormatUint(o.IfVersion, 10))
	}
	if o.IfAbsent {
		q.Set("if_absent", "true")
	}
	return q, o, nil
}

// seq sends a write of domain whose answer is its seq.
func (c *Client) seq(ctx context.Context, domain string, r request) (uint64, error) {
	var out struct {
		Seq uint64 `json:"seq"`
	}
	err := c.write(ctx, domain, r, &out, func() uint64 { return out.Seq })
	return out.Seq, err
}

func idempotency(key string) http.Header {
	if key == "" {
		return nil
	}
	return http.Header{"Idempotency-Key": {key}}
}

// ScanOptions choose the items of a Scan: keys in [Start, End) that start
// with Prefix, in key order (descending when Reverse). Zero Keys are no
// bound.
type ScanOptions struct {
	Prefix  Key
	Start   Key // inclusive
	End     Key // exclusive
	Reverse bool
	// Limit is the most items the scan yields in all; 0: every item.
	Limit int
	// PageSize is the most items per request (the server's default when 0,
	// 100; at most 1000).
	PageSize int
	// MinSeq and Linearizable make the node wait before it reads the first
	// page, as GetOptions' do.
	MinSeq       uint64
	Linearizable bool
}

// maxPage is the server's largest page.
const maxPage = 1000

// Scan iterates over the items of store that opts choose, following the
// server's cursors from page to page. An error ends the iteration as its
// last pair. Each page is read at the node's applied seq when it is asked
// for, so a long scan is not one snapshot: an item written between pages
// shows up if its key is still ahead.
func (c *Client) Scan(ctx context.Context, domain, store string, opts ScanOptions) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		q, err := opts.query()
		if err != nil {
			yield(Item{}, err)
			return
		}
		p := path("domains", domain, "stores", store, "items")
		if n := c.readSeq(domain, opts.MinSeq, opts.Linearizable); n > 0 {
			q.Set("min_seq", strconv.FormatUint(n, 10))
		}
		if opts.Linearizable {
			q.Set("linearizable", "true")
		}
		left := opts.Limit
		for {
			if n := opts.pageSize(left); n > 0 {
				q.Set("limit", strconv.Itoa(n))
			}
			var page struct {
				Items []Item  `json:"items"`
				Next  *string `json:"next"`
			}
			if _, err := c.call(ctx, request{method: http.MethodGet, path: p, query: q}, &page); err != nil {
				yield(Item{}, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
				if left--; left == 0 {
					return
				}
			}
			if page.Next == nil || *page.Next == "" || len(page.Items) == 0 {
				return
			}
			q.Set("cursor", *page.Next)
		}
	}
}

func (o ScanOptions) query() (url.Values, error) {
	q := url.Values{}
	for _, b := range []struct {
		name string
		key  Key
	}{{"prefix", o.Prefix}, {"start", o.Start}, {"end", o.End}} {
		if b.key.err != nil {
			return nil, fmt.Errorf("scan %s: %w", b.name, b.key.err)
		}
		if b.key.text != "" {
			q.Set(b.name, b.key.text)
		}
	}
	if o.Reverse {
		q.Set("reverse", "true")
	}
	if o.Limit < 0 || o.PageSize < 0 {
		return nil, fmt.Errorf("%w: scan limit and page size cannot be negative", ErrBadRequest)
	}
	return q, nil
}

// pageSize is the limit of the next request given the items left to yield
// (negative or 0 with no Limit); 0 leaves it to the server.
func (o ScanOptions) pageSize(left int) int {
	n := min(o.PageSize, maxPage)
	if o.Limit > 0 && (n == 0 || left < n) {
		n = min(left, maxPage)
	}
	return n
}
