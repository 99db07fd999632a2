package sop

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/sopd/sop/lock"
	"github.com/sopd/sop/snapshot"
	"github.com/sopd/sop/vfs"
)

// JournalSync is the durability the embedded journal server gives an
// acknowledged commit.
type JournalSync int

const (
	// SyncAlways: the server fsyncs before it acknowledges, so an
	// acknowledged commit survives kill -9 and a power loss or OS crash.
	// The default.
	SyncAlways JournalSync = iota
	// SyncInterval: the server writes to the OS at once and fsyncs every
	// JournalSyncInterval, so an acknowledged commit survives kill -9 of
	// sop, but a power loss or OS crash may lose the last interval's
	// commits.
	SyncInterval
)

// ParseJournalSync parses "always" or "interval".
func ParseJournalSync(s string) (JournalSync, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "interval":
		return SyncInterval, nil
	}
	return 0, fmt.Errorf("%w: journal sync %q: use always or interval", ErrBadOptions, s)
}

func (s JournalSync) String() string {
	if s == SyncInterval {
		return "interval"
	}
	return "always"
}

// Options configure a DB. Only Dir is required.
type Options struct {
	// Dir holds the page files, the Pebble checkpoints and the embedded
	// journal.
	Dir string
	// NATSURL is an existing NATS JetStream cluster; empty starts an
	// embedded server storing the journal under Dir.
	NATSURL string
	// NATSListen is the embedded server's client address (for example
	// "127.0.0.1:4250"), so standard NATS tools can read the journal;
	// empty: in process only.
	NATSListen string
	// JournalSync is the embedded server's sync mode (SyncAlways by
	// default); JournalSyncInterval its fsync period under SyncInterval
	// (default 1 second).
	JournalSync         JournalSync
	JournalSyncInterval time.Duration
	// JournalReplicas is the replica count of domain streams created on an
	// external cluster (default 1; use 3 in production clusters).
	JournalReplicas int
	// NodeID names this node; empty: generated once and kept in Dir.
	NodeID string
	// PageSize and CacheSize configure each domain's B-tree page file (see
	// btree.Options); zero takes the defaults (8 KiB pages, 64 MiB cache).
	PageSize  int
	CacheSize int64
	// CheckpointEntries and CheckpointInterval: a domain's projection is
	// checkpointed after this many applied entries or this much time,
	// whichever comes first (defaults 10000 and 5 seconds). A restart
	// replays the journal after the last checkpoint.
	CheckpointEntries  int
	CheckpointInterval time.Duration
	// MaxRetries bounds how often Update retries a conflicting transaction
	// (default 10; negative: never). Backoff between tries is jittered
	// and grows from 1 ms to 100 ms.
	MaxRetries int
	// MaxGroup bounds the transactions of one group commit (default 256).
	MaxGroup int
	// ConflictHistory is how many recent writes the leader keeps to check
	// transactions against (default 1<<20). A transaction whose read
	// version is older than the oldest kept write gets ErrConflict.
	ConflictHistory int
	// WatchHistory and WatchHistoryBytes bound the change events each
	// domain keeps in memory for watchers (defaults 65536 events and 64
	// MiB). A watcher further behind reads the journal; one that falls
	// behind while reading the newest events is cut off (ErrWatcherBehind).
	WatchHistory      int
	WatchHistoryBytes int
	// Snapshots keeps the domains' snapshots; nil: a directory store at
	// Dir/snapshots. SnapshotKeep is how many of each domain's newest are
	// kept (default 3).
	Snapshots    snapshot.Store
	SnapshotKeep int
	// SnapshotsInJetStream keeps snapshots in the JetStream object store
	// (bucket SOP_SNAPSHOTS, with JournalReplicas replicas) of the node's
	// own NATS connection instead of Dir/snapshots; ignored when Snapshots
	// is set.
	SnapshotsInJetStream bool
	// SnapshotEntries and SnapshotInterval: a domain is snapshotted
	// automatically once this many entries were applied since its last
	// snapshot (default 100000), or this long after it when any were
	// (default 1 hour). Negative turns that trigger off.
	SnapshotEntries  int
	SnapshotInterval time.Duration
	// JournalRetain is how many entries before the newest snapshot the
	// journal keeps when a snapshot truncates it (default 10000), so that
	// nodes and watchers a little behind need no snapshot.
	JournalRetain uint64
	// Follower makes the node a replica: every domain applies its journal
	// as other nodes append to it (restoring a snapshot first when the
	// journal no longer reaches back to the node's checkpoint), serves
	// reads and watches, and answers writes with ErrNotLeader.
	Follower bool
	// Leases, when set, decides each domain's leader: the node holding the
	// domain's lease (named from ClusterName, the domain and its
	// incarnation) leads it, the others follow. LeaseTTL is the lease's
	// time to live (default 5 seconds; renewed every third of it).
	// ClusterName defaults to "sop".
	Leases      lock.Leaser
	LeaseTTL    time.Duration
	ClusterName string
	// Advertise is the address this node announces to the cluster (its
	// HTTP API URL), so that others can name it (see DB.Members).
	Advertise string
	// PassiveDir is where the node rebuilds its state (by snapshot and
	// journal replay) when Dir's volume fails with a permanent I/O error
	// (see vfs.IsPermanent): storage failover. Empty: such a node stops
	// serving and reports not ready (ErrStorageFailed). It must be on
	// another volume than Dir. The embedded journal server, in standalone
	// mode, keeps its files in Dir: failover moves the projection only.
	PassiveDir string
	// FS is the file system of the page files (vfs.Default when nil); tests
	// inject I/O errors through it. Transient errors are retried with
	// backoff; a permanent one fails the volume over.
	FS vfs.FS

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Dir == "" {
		return fmt.Errorf("%w: Dir is empty: say where the data lives", ErrBadOptions)
	}
	if o.JournalSync != SyncAlways && o.JournalSync != SyncInterval {
		return fmt.Errorf("%w: unknown journal sync mode %d", ErrBadOptions, o.JournalSync)
	}
	if o.JournalSyncInterval <= 0 {
		o.JournalSyncInterval = time.Second
	}
	if o.JournalReplicas <= 0 {
		o.JournalReplicas = 1
	}
	if o.CheckpointEntries <= 0 {
		o.CheckpointEntries = 10000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 5 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 10
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 256
	}
	if o.ConflictHistory <= 0 {
		o.ConflictHistory = 1 << 20
	}
	if o.WatchHistory <= 0 {
		o.WatchHistory = 1 << 16
	}
	if o.WatchHistoryBytes <= 0 {
		o.WatchHistoryBytes = 64 << 20
	}
	if o.SnapshotKeep <= 0 {
		o.SnapshotKeep = 3
	}
	if o.SnapshotEntries == 0 {
		o.SnapshotEntries = 100000
	}
	if o.SnapshotInterval == 0 {
		o.SnapshotInterval = time.Hour
	}
	if o.JournalRetain == 0 {
		o.JournalRetain = 10000
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 5 * time.Second
	}
	if o.ClusterName == "" {
		o.ClusterName = "sop"
	}
	if o.Leases != nil && o.Follower {
		return fmt.Errorf("%w: Leases and Follower exclude each other: with leases the lease decides who follows", ErrBadOptions)
	}
	if o.PassiveDir != "" && filepath.Clean(o.PassiveDir) == filepath.Clean(o.Dir) {
		return fmt.Errorf("%w: PassiveDir is Dir (%s): the passive data dir must be another directory, on another volume", ErrBadOptions, o.Dir)
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
