package sop

import (
	"context"
	"errors"
	"fmt"

	"github.com/sopd/sop/replay"
)

// Role is a node's part in a domain.
type Role string

// Roles. A standalone node leads every domain.
const (
	RoleLeader   Role = "leader"
	RoleFollower Role = "follower"
)

// DomainStatus is one domain's state on this node.
type DomainStatus struct {
	Name         string
	Role         Role
	Applied      uint64 // the last seq this node applied
	JournalFirst uint64 // the journal's first seq (0 when empty)
	JournalLast  uint64 // the journal's last seq
	Commits      uint64 // transactions this node committed to it since it opened
	Groups       uint64 // the group appends that committed them (Commits/Groups: the mean group size)
	SnapshotSeq  uint64 // seq of the newest snapshot this node knows of (0: none)
	Err          error  // why the domain failed (ErrDomainFailed); nil when healthy
	// Replay is the progress of a journal replay running now (a rebuild's);
	// nil when none is.
	Replay *replay.Progress
}

// Status reports each domain of this node, reading each journal's bounds.
func (db *DB) Status(ctx context.Context) ([]DomainStatus, error) {
	var out []DomainStatus
	for _, name := range db.Domains() {
		d, err := db.domain(name)
		if errors.Is(err, ErrStorageFailed) {
			return nil, nil // no domain serves: Ready says why
		}
		if err != nil {
			return nil, err
		}
		first, last, err := d.journal.Bounds(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: domain %s: %w", ErrUnavailable, name, err)
		}
		role := RoleFollower
		if l := d.cur.Load(); l != nil && l.leader {
			role = RoleLeader
		}
		st := DomainStatus{
			Name: name, Role: role, Applied: d.applied(),
			JournalFirst: uint64(first), JournalLast: uint64(last),
			Commits: d.commits.Load(), Groups: d.groups.Load(), SnapshotSeq: d.snapSeq.Load(), Err: d.failure(),
		}
		if p, ok := db.replays.get(name); ok {
			st.Replay = &p
		}
		out = append(out, st)
	}
	return out, nil
}

// JournalBounds returns domain's journal's first retained and last seq (an
// empty journal is (1, 0)). Waiting until the last one is applied makes a
// following read linearizable.
func (db *DB) JournalBounds(ctx context.Context, domain string) (first, last uint64, err error) {
	d, err := db.domain(domain)
	if err != nil {
		return 0, 0, err
	}
	f, l, err := d.journal.Bounds(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: domain %s: %w", ErrUnavailable, domain, err)
	}
	return uint64(f), uint64(l), nil
}

// WaitApplied waits until this node has applied domain's journal up to
// seq, or ctx ends (returning ctx.Err()).
func (db *DB) WaitApplied(ctx context.Context, domain string, seq uint64) error {
	d, err := db.domain(domain)
	if err != nil {
		return err
	}
	for {
		applied, wake, closed := d.feed.applied()
		switch {
		case applied >= seq:
			return nil
		case closed:
			return ErrClosed
		}
		if err := d.failure(); err != nil {
			return err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
