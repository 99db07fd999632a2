package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Meta describes one stored snapshot.
type Meta struct {
	// ID names the snapshot within its domain: the seq as 20 decimal
	// digits, "-", then 8 hex digits of randomness (so IDs sort by seq and
	// two nodes snapshotting the same seq do not collide), e.g.
	// "00000000000000012345-9f3a0c1b". NewID makes one.
	ID      string
	Domain  string
	Seq     uint64    // the snapshot holds the state after applying this seq
	Bytes   int64     // size of the snapshot file; set by Put
	Created time.Time // when Put completed; set by Put
}

// Errors of a Store.
var (
	// ErrNotFound: no snapshot with that domain and ID.
	ErrNotFound = errors.New("snapshot: not found")
	// ErrExists: Put of an ID that is already stored.
	ErrExists = errors.New("snapshot: already exists")
	// ErrBadID: an ID or domain name that cannot be stored (see NewID and
	// CheckID).
	ErrBadID = errors.New("snapshot: bad id")
	// ErrUnavailable: the store could not be reached or did not answer in
	// time (a server restarting, a lost connection); the same call may
	// work when tried again later.
	ErrUnavailable = errors.New("snapshot: store unavailable")
)

// Store keeps snapshot files. Implementations: Dir (a directory, the
// default), objstore.Store (the JetStream object store) and
// cassandra.Store. All are safe for concurrent use and pass the
// conformance suite in snapshot/snapshottest.
//
// Every method fails with ErrBadID, before any I/O, for a domain or ID
// that CheckID rejects. A Store treats the file as opaque bytes.
type Store interface {
	// Put stores the snapshot file read from r (to EOF) as meta.Domain /
	// meta.ID and returns meta with Bytes (the bytes read) and Created (not
	// zero) set. The snapshot is visible to List and Open only once it is
	// complete and durable; a Put that fails or whose ctx ends leaves
	// nothing visible, and the ID free for another Put. An ID already
	// stored is ErrExists.
	Put(ctx context.Context, meta Meta, r io.Reader) (Meta, error)
	// Open returns the snapshot file and its Meta, as Put returned it (give
	// or take Created's precision); ErrNotFound when absent. The caller
	// must Close the reader.
	Open(ctx context.Context, domain, id string) (io.ReadCloser, Meta, error)
	// List returns domain's snapshots, newest (highest seq, then ID) first;
	// an empty list, without error, for a domain that has none. The caller
	// owns the slice.
	List(ctx context.Context, domain string) ([]Meta, error)
	// Delete removes a snapshot; ErrNotFound when absent.
	Delete(ctx context.Context, domain, id string) error
}

var (
	idRule     = regexp.MustCompile(`^[0-9]{20}-[0-9a-f]{8}$`)
	domainRule = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// NewID returns a fresh ID for a snapshot at seq.
func NewID(seq uint64, random uint32) string {
	return fmt.Sprintf("%020d-%08x", seq, random)
}

// CheckID returns an error wrapping ErrBadID unless domain is a domain name
// and id has the form NewID makes.
func CheckID(domain, id string) error {
	if !domainRule.MatchString(domain) {
		return fmt.Errorf("%w: domain %q: 1 to 64 ASCII letters, digits, '-' or '_'", ErrBadID, domain)
	}
	if !idRule.MatchString(id) {
		return fmt.Errorf("%w: %q: an id is 20 decimal digits of seq, '-', 8 hex digits", ErrBadID, id)
	}
	return nil
}

// Prune deletes all but the newest keep snapshots of domain from st and
// returns the ones it deleted.
func Prune(ctx context.Context, st Store, domain string, keep int) ([]Meta, error) {
	metas, err := st.List(ctx, domain)
	if err != nil {
		return nil, err
	}
	if keep < 1 {
		keep = 1
	}
	var gone []Meta
	for _, m := range metas[min(keep, len(metas)):] {
		if err := st.Delete(ctx, domain, m.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return gone, err
		}
		gone = append(gone, m)
	}
	return gone, nil
}

// Sweeper is implemented by stores that can be left with debris by a Put
// or Delete that crashed midway (the object store's orphan chunks,
// Cassandra's pending rows). Sweep removes what is old enough to be
// debris for certain, and returns how much it removed; it may run on any
// node at any time. The engine sweeps after each snapshot it takes.
type Sweeper interface {
	Sweep(ctx context.Context, domain string) (int, error)
}
