package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Domains lists the node's domains in name order.
func (c *Client) Domains(ctx context.Context) ([]string, error) {
	var out struct {
		Domains []struct {
			Name string `json:"name"`
		} `json:"domains"`
	}
	if _, err := c.call(ctx, request{method: http.MethodGet, path: path("domains")}, &out); err != nil {
		return nil, err
	}
	names := make([]string, len(out.Domains))
	for i, d := range out.Domains {
		names[i] = d.Name
	}
	return names, nil
}

// CreateDomain creates a domain, and reports whether it was new (creating
// an existing domain is not an error).
func (c *Client) CreateDomain(ctx context.Context, name string) (created bool, err error) {
	status, err := c.call(ctx, request{method: http.MethodPut, path: path("domains", name)}, nil)
	return status == http.StatusCreated, err
}

// IndexField is one field of a store's index specification: a document
// field's dotted path, and its order, "asc" (the default when empty) or
// "desc".
type IndexField struct {
	Field string `json:"field"`
	Order string `json:"order,omitempty"`
}

// StoreInfo describes a store.
type StoreInfo struct {
	Name  string       `json:"name"`
	Index []IndexField `json:"index,omitempty"` // empty for a plain store
	Count uint64       `json:"count"`           // items
}

// Stores lists the stores of domain in name order.
func (c *Client) Stores(ctx context.Context, domain string) ([]StoreInfo, error) {
	var out struct {
		Stores []StoreInfo `json:"stores"`
	}
	if _, err := c.call(ctx, request{method: http.MethodGet, path: path("domains", domain, "stores")}, &out); err != nil {
		return nil, err
	}
	return out.Stores, nil
}

// CreateStore creates store in domain; a non-empty index makes it an index
// store, whose items are documents keyed by these fields (see PutDoc).
// Creating a store that exists with the same index is not an error: created
// is false. One that exists with another index is ErrStoreExists.
func (c *Client) CreateStore(ctx context.Context, domain, store string, index []IndexField) (created bool, err error) {
	r := request{method: http.MethodPut, path: path("domains", domain, "stores", store)}
	if len(index) > 0 {
		if r.body, err = json.Marshal(struct {
			Index []IndexField `json:"index"`
		}{index}); err != nil {
			return false, err
		}
	}
	status, err := c.call(ctx, r, nil)
	return status == http.StatusCreated, err
}

// DropStore removes store and all its items from domain, and returns the
// seq of the drop (0 when the server does not say).
func (c *Client) DropStore(ctx context.Context, domain, store string) (uint64, error) {
	var out struct {
		Seq uint64 `json:"seq"`
	}
	resp, err := c.send(ctx, request{method: http.MethodDelete, path: path("domains", domain, "stores", store)})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return 0, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("client: drop store %s: decode answer: %w", store, err)
	}
	return out.Seq, nil
}
