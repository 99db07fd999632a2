package sop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sopd/sop/checkpoint"
	"github.com/sopd/sop/journal"
	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/snapshot/objstore"
	"github.com/sopd/sop/vfs"
)

// DefaultDomain exists on every node.
const DefaultDomain = "default"

// MaxKeySize is the longest key, in bytes.
const MaxKeySize = journal.MaxKeySize

// domainName is the rule for domain names: they become JetStream stream
// names and subject tokens.
var domainName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckDomainName returns an error wrapping ErrBadName when name cannot be
// a domain name: 1 to 64 ASCII letters, digits, '-' or '_'.
func CheckDomainName(name string) error {
	if !domainName.MatchString(name) {
		return fmt.Errorf("%w: domain %q: use 1 to 64 ASCII letters, digits, '-' or '_'", ErrBadName, name)
	}
	return nil
}

// DB is a sop node: its domains, their journals and projected stores. It is
// safe for concurrent use.
type DB struct {
	opts   Options
	dir    string
	node   string
	lock   *os.File
	ckpt   *checkpoint.Store
	server *journal.Server // nil with an external NATS cluster
	conn   *journal.Conn
	maxMsg int            // largest encoded entry the journal accepts
	snaps  snapshot.Store // where snapshots are kept

	replays replays // journal replays in progress, for Status

	pageFS       vfs.FS                // the page files' FS on the active volume (see failover.go)
	volumeErrs   chan volumeError      // permanent I/O errors, to watchVolume
	volumeDone   chan struct{}         // closed when watchVolume returns; nil when it never ran
	storage      atomic.Pointer[error] // set while failing over, or after a failure with no passive dir
	failovers    atomic.Uint64
	competeAfter atomic.Int64 // Unix ns before which domains do not compete for leases (after a failover)

	members      members       // cluster members heard (cluster mode)
	closing      chan struct{} // closed when Close begins
	announceDone chan struct{} // closed when announcing stopped; nil when it never ran

	mu      sync.RWMutex
	domains map[string]*domain // guarded by mu
	closed  bool               // guarded by mu
}

// Open opens (creating it when new) the node whose data is in opts.Dir,
// starts the embedded journal server unless opts.NATSURL names a cluster,
// and brings every domain up to date by replaying its journal from the last
// checkpoint. Domain "default" always exists.
func Open(ctx context.Context, opts Options) (_ *DB, err error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	db := &DB{opts: opts, dir: opts.Dir, domains: map[string]*domain{}, closing: make(chan struct{}), volumeErrs: make(chan volumeError, 1)}
	db.pageFS = db.newPageFS(opts.Dir)
	defer func() {
		if err != nil {
			db.shutdown()
		}
	}()
	if err := db.lockDir(); err != nil {
		return nil, err
	}
	if db.ckpt, err = checkpoint.Open(filepath.Join(db.dir, "checkpoint"), checkpoint.Options{Logger: opts.Logger}); err != nil {
		return nil, err
	}
	if err := db.setNodeID(); err != nil {
		return nil, err
	}
	if err := db.connect(); err != nil {
		return nil, err
	}
	if err := db.openSnapshots(ctx); err != nil {
		return nil, err
	}
	names, err := db.ckpt.Domains()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, DefaultDomain) {
		if err := db.ckpt.Create(DefaultDomain, newID()); err != nil {
			return nil, err
		}
		names = append(names, DefaultDomain)
	}
	for _, name := range names {
		if err := db.openDomain(ctx, name); err != nil {
			return nil, err
		}
	}
	if opts.Leases != nil {
		if err := db.announce(); err != nil {
			return nil, err
		}
	}
	db.volumeDone = make(chan struct{})
	go db.watchVolume()
	return db, nil
}

// openSnapshots sets the snapshot store: Options.Snapshots, the JetStream
// object store of the node's connection, or the directory Dir/snapshots.
func (db *DB) openSnapshots(ctx context.Context) error {
	switch {
	case db.opts.Snapshots != nil:
		db.snaps = db.opts.Snapshots
	case db.opts.SnapshotsInJetStream:
		js, err := db.conn.JetStream()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		st, err := objstore.New(ctx, js, objstore.Options{Replicas: db.opts.JournalReplicas})
		if err != nil {
			return fmt.Errorf("%w: snapshot store: %w", ErrUnavailable, err)
		}
		db.snaps = st
	default:
		st, err := snapshot.NewDir(filepath.Join(db.dir, "snapshots"))
		if err != nil {
			return err
		}
		db.snaps = st
	}
	return nil
}

// lockDir creates Dir and takes an exclusive lock on Dir/LOCK, so two
// processes never share a data directory.
func (db *DB) lockDir() error {
	if err := os.MkdirAll(db.dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(db.dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("%w: data dir %s is in use by another process (lock %s: %v)", ErrBadOptions, db.dir, f.Name(), err)
	}
	db.lock = f
	return nil
}

func (db *DB) setNodeID() error {
	stored, err := db.ckpt.NodeID()
	if err != nil {
		return err
	}
	switch {
	case db.opts.NodeID != "":
		db.node = db.opts.NodeID
	case stored != "":
		db.node = stored
	default:
		db.node = "node-" + newID()[:12]
	}
	if db.node != stored {
		return db.ckpt.SetNodeID(db.node)
	}
	return nil
}

// connect starts the embedded journal server, unless a cluster is named,
// and connects to it.
func (db *DB) connect() error {
	if db.opts.NATSURL != "" {
		conn, err := journal.Dial(db.opts.NATSURL, journal.DialOptions{Name: "sop " + db.node})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		db.conn = conn
	} else {
		sync := journal.SyncAlways
		if db.opts.JournalSync == SyncInterval {
			sync = journal.SyncInterval
		}
		srv, err := journal.StartServer(journal.ServerOptions{
			Dir: filepath.Join(db.dir, "journal"), Listen: db.opts.NATSListen,
			Sync: sync, SyncInterval: db.opts.JournalSyncInterval, Name: db.node,
		})
		if err != nil {
			return err
		}
		db.server = srv
		if db.conn, err = srv.Dial(); err != nil {
			return err
		}
	}
	// Headers (ids, batch headers) take a few hundred bytes of a message.
	db.maxMsg = int(db.conn.MaxPayload()) - 1024
	return nil
}

// Node is this node's id.
func (db *DB) Node() string { return db.node }

// Domains lists the domains in name order.
func (db *DB) Domains() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	names := make([]string, 0, len(db.domains))
	for name := range db.domains {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// CreateDomain creates a domain, and reports whether it was new (creating
// an existing domain is not an error).
func (db *DB) CreateDomain(ctx context.Context, name string) (bool, error) {
	if err := CheckDomainName(name); err != nil {
		return false, err
	}
	if err := db.Ready(); err != nil {
		return false, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return false, ErrClosed
	}
	if _, ok := db.domains[name]; ok {
		return false, nil
	}
	if err := db.ckpt.Create(name, newID()); err != nil {
		return false, err
	}
	return true, db.openDomainLocked(ctx, name)
}

func (db *DB) openDomain(ctx context.Context, name string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.openDomainLocked(ctx, name)
}

func (db *DB) openDomainLocked(ctx context.Context, name string) error {
	d, err := openDomain(ctx, db, name)
	if err != nil {
		return fmt.Errorf("open domain %s: %w", name, err)
	}
	db.domains[name] = d
	return nil
}

// domain returns the open domain called name.
func (db *DB) domain(name string) (*domain, error) {
	if err := db.Ready(); err != nil {
		return nil, err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	d, ok := db.domains[name]
	if !ok {
		if err := CheckDomainName(name); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %q: create it first", ErrDomainNotFound, name)
	}
	return d, nil
}

// Close stops every domain, checkpoints it, and stops the journal server.
// Commits still queued fail with ErrClosed.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.mu.Unlock()
	return db.shutdown()
}

func (db *DB) shutdown() error {
	if db.closing != nil {
		close(db.closing)
		if db.announceDone != nil {
			<-db.announceDone
		}
		if db.volumeDone != nil {
			<-db.volumeDone
		}
	}
	var errs []error
	for _, d := range db.domains {
		errs = append(errs, d.close())
	}
	if db.conn != nil {
		db.conn.Close()
	}
	if db.server != nil {
		db.server.Shutdown()
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
	}
	return errors.Join(errs...)
}

// newID returns 128 random bits in hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// txIDPrefix and txIDNext make the ids of transactions that bring none:
// 64 bits drawn once per process, then a 64-bit counter, 32 hex digits in
// all like newID's.
// Unique within the process by the counter and across processes by the
// random half (the journal's dedupe window holds minutes of ids, so
// about 2^32 processes would have to write in the same minutes for a
// collision to be likely); a commit does not pay for crypto/rand, which
// costs more than the rest of the id.
var (
	txIDPrefix = func() (p [8]byte) { rand.Read(p[:]); return p }()
	txIDNext   atomic.Uint64
)

// newTxID returns a fresh transaction id.
func newTxID() string {
	var b [16]byte
	copy(b[:8], txIDPrefix[:])
	binary.BigEndian.PutUint64(b[8:], txIDNext.Add(1))
	return hex.EncodeToString(b[:])
}
