package client

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

// DomainStatus is one domain's state on the node.
type DomainStatus struct {
	Name            string `json:"name"`
	Role            string `json:"role"` // "leader" or "follower"
	AppliedSeq      uint64 `json:"applied_seq"`
	JournalFirstSeq uint64 `json:"journal_first_seq"`
	JournalLastSeq  uint64 `json:"journal_last_seq"`
	SnapshotSeq     uint64 `json:"snapshot_seq"`
	Error           string `json:"error,omitempty"` // why the domain failed
	// Replay is the progress of a journal replay running now (a rebuild);
	// nil when none is.
	Replay *Replay `json:"replay,omitempty"`
}

// Replay is the progress of a journal replay.
type Replay struct {
	AppliedSeq uint64  `json:"applied_seq"`
	TargetSeq  uint64  `json:"target_seq"`
	Entries    uint64  `json:"entries"`
	Rate       float64 `json:"rate"`        // entries per second
	ETASeconds float64 `json:"eta_seconds"` // time left at that rate
}

// Rebuild asks the node to wipe its local state of domain and build it
// again from the newest snapshot and the journal; it returns when done,
// with the seq the rebuilt domain has applied. Status shows the progress
// meanwhile.
func (c *Client) Rebuild(ctx context.Context, domain string) (uint64, error) {
	var out struct {
		Seq uint64 `json:"seq"`
	}
	_, err := c.call(ctx, request{method: http.MethodPost, path: path("domains", domain, "rebuild")}, &out)
	return out.Seq, err
}

// Member is a node of the cluster as the answering node last heard of it.
type Member struct {
	Node      string            `json:"node"`
	Advertise string            `json:"advertise,omitempty"` // its HTTP address
	Roles     map[string]string `json:"roles"`               // domain -> "leader" or "follower"
	LastSeen  time.Time         `json:"last_seen"`
}

// Status is the node's state.
type Status struct {
	Node      string `json:"node"`
	Version   string `json:"version"`
	DataDir   string `json:"data_dir"`  // the data dir the node projects into (the passive one after a storage failover)
	Failovers uint64 `json:"failovers"` // storage failovers since the node started
	// StorageError is set while the node fails over to its passive data
	// dir, or when its volume failed and it has none: it serves nothing.
	StorageError string         `json:"storage_error,omitempty"`
	Domains      []DomainStatus `json:"domains"`
	Members      []Member       `json:"members"` // the cluster's nodes (this one alone when standalone)
}

// Status reports the node and each of its domains.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	_, err := c.call(ctx, request{method: http.MethodGet, path: path("status")}, &st)
	return st, err
}

// Hash returns the state hash of domain (SHA-256 over every store's keys,
// values and versions) and the applied seq it describes: two nodes hold the
// same state at a seq exactly when their hashes there are equal.
func (c *Client) Hash(ctx context.Context, domain string) (seq uint64, sum []byte, err error) {
	var out struct {
		Seq  uint64 `json:"seq"`
		Hash string `json:"hash"`
	}
	if _, err := c.call(ctx, request{method: http.MethodGet, path: path("domains", domain, "hash")}, &out); err != nil {
		return 0, nil, err
	}
	if sum, err = hex.DecodeString(out.Hash); err != nil {
		return 0, nil, fmt.Errorf("client: hash of domain %s: %w", domain, err)
	}
	return out.Seq, sum, nil
}

// Snapshot describes one snapshot of a domain.
type Snapshot struct {
	ID      string    `json:"id"`
	Seq     uint64    `json:"seq"`
	Bytes   int64     `json:"bytes,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// TakeSnapshot takes a snapshot of domain now (and truncates its journal
// per the node's policy).
func (c *Client) TakeSnapshot(ctx context.Context, domain string) (Snapshot, error) {
	var s Snapshot
	_, err := c.call(ctx, request{method: http.MethodPost, path: path("domains", domain, "snapshots")}, &s)
	return s, err
}

// Snapshots lists the snapshots of domain.
func (c *Client) Snapshots(ctx context.Context, domain string) ([]Snapshot, error) {
	var out struct {
		Snapshots []Snapshot `json:"snapshots"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: path("domains", domain, "snapshots")}, &out)
	return out.Snapshots, err
}

// Ready reports nil when the node answers /readyz with 200.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/readyz"}, nil)
	return err
}
