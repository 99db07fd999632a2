// Package objstore keeps snapshots in a NATS JetStream object store bucket:
// the cluster's default snapshot store, which needs nothing beyond the NATS
// cluster that already holds the journals.
//
// # Layout
//
// A snapshot is the object "<domain>/<id>" of one bucket (default
// "SOP_SNAPSHOTS", backed by the stream "OBJ_SOP_SNAPSHOTS"). The object's
// metadata holds sop.domain, sop.id and sop.seq, so List reads only the
// objects' info messages and downloads no snapshot. Meta.Bytes is the
// object's size and Meta.Created the server's time of its info message.
//
// The object store's layout (NATS ADR-20), which this package relies on to
// remove objects without leaving delete markers and to find orphaned chunks:
// the file is split into chunk messages (128 KiB) on "$O.<bucket>.C.<nuid>",
// where nuid is fresh for every upload, and the object's info (name,
// metadata, size, chunk count, SHA-256 digest, nuid) is the last message on
// "$O.<bucket>.M.<base64url(name)>".
//
// # Atomicity
//
// An upload publishes every chunk first and the info message last, and an
// object exists only once its info message is stored: a Put that fails part
// way leaves no visible object, only chunks that no info message names.
// Put removes those: the client purges them when the reader fails (Put keeps
// the context it hands the client alive so that this purge can run, and
// stops the upload through the reader when the caller's context ends), and
// Put removes an info message that was stored although the upload reported
// an error, or although the caller's context ended meanwhile. Chunks left by
// a process that crashed mid-upload, or whose purge failed, are removed by
// Cleanup.
//
// Delete purges the info message first (the snapshot disappears at once)
// and then the chunks; chunks a failed second step leaves are Cleanup's.
//
// # Races
//
// Put checks that the name is free before it uploads, but the object store
// has no create-if-absent: two concurrent Puts of one ID both pass the check,
// the later info message wins, and the other upload's chunks are left for
// Cleanup.
// IDs carry 32 random bits after the seq, so two writers of one ID would need
// the same seq and the same random number: practically impossible, and not
// guarded against.
//
// Info reads use JetStream direct gets, which any current replica of an R3
// bucket may answer; a replica can lag the leader by the last few writes, so
// a snapshot Put through one node may be missing for a moment from an Open on
// another. Snapshot bytes are read through an ordered consumer, which the
// stream leader serves.
package objstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sopd/sop/snapshot"
)

// unavailable marks err as snapshot.ErrUnavailable when it says that
// NATS could not be reached or did not answer, so callers can tell a
// store to retry later from one that refused the request.
func unavailable(err error) error {
	for _, t := range []error{jetstream.ErrNoStreamResponse, nats.ErrTimeout, nats.ErrNoResponders,
		nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrDisconnected, context.DeadlineExceeded} {
		if errors.Is(err, t) {
			return fmt.Errorf("%w: %w", snapshot.ErrUnavailable, err)
		}
	}
	return err
}

// DefaultBucket is the bucket New uses when Options.Bucket is empty.
const DefaultBucket = "SOP_SNAPSHOTS"

// Object metadata keys.
const (
	metaDomain = "sop.domain"
	metaID     = "sop.id"
	metaSeq    = "sop.seq"
)

// removeTimeout bounds the removal of what a failed Put left, which runs on
// a context detached from the caller's (that one may have ended).
const removeTimeout = 30 * time.Second

// Options configure New.
type Options struct {
	// Bucket is the object store bucket; default DefaultBucket. Letters,
	// digits, '-' and '_'.
	Bucket string
	// Replicas is the number of copies JetStream keeps of the bucket when
	// New creates it: 1 (the default) on a single server, 3 in a cluster.
	Replicas int
	// Storage is the bucket's storage when New creates it; default
	// FileStorage.
	Storage Storage
}

// Storage says where JetStream keeps a bucket. It is this package's own
// type so that callers configure the store without importing nats.go.
type Storage int

const (
	// FileStorage keeps the bucket on disk: the default.
	FileStorage Storage = iota
	// MemoryStorage keeps the bucket in memory only (tests, caches): a
	// server restart loses it.
	MemoryStorage
)

func (st Storage) jetstream() (jetstream.StorageType, error) {
	switch st {
	case FileStorage:
		return jetstream.FileStorage, nil
	case MemoryStorage:
		return jetstream.MemoryStorage, nil
	}
	return 0, fmt.Errorf("storage %d: want FileStorage or MemoryStorage", int(st))
}

// Store is a snapshot.Store on a JetStream object store bucket. It is safe
// for concurrent use.
type Store struct {
	bucket string
	obs    jetstream.ObjectStore
	stream jetstream.Stream // the bucket's stream, for purges and Cleanup
	now    func() time.Time // Cleanup's clock; tests replace it
}

var _ snapshot.Store = (*Store)(nil)

// New binds the bucket opts.Bucket, creating it when missing. The
// configuration of an existing bucket (replicas, storage) is kept as it is:
// change it with the nats CLI.
func New(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if js == nil {
		return nil, fmt.Errorf("open snapshot bucket %s: no JetStream context", opts.Bucket)
	}
	if opts.Replicas < 0 || opts.Replicas > 5 {
		return nil, fmt.Errorf("open snapshot bucket %s: replicas %d: want 1 to 5", opts.Bucket, opts.Replicas)
	}
	storage, err := opts.Storage.jetstream()
	if err != nil {
		return nil, fmt.Errorf("open snapshot bucket %s: %w", opts.Bucket, err)
	}
	obs, err := bind(ctx, js, opts.Bucket, jetstream.ObjectStoreConfig{
		Bucket:      opts.Bucket,
		Description: "sop snapshots",
		Replicas:    opts.Replicas,
		Storage:     storage,
	})
	if err != nil {
		return nil, fmt.Errorf("open snapshot bucket %s: %w", opts.Bucket, err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+opts.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open snapshot bucket %s: stream: %w", opts.Bucket, err)
	}
	return &Store{bucket: opts.Bucket, obs: obs, stream: stream, now: time.Now}, nil
}

// bind binds the bucket, or creates it with cfg when missing.
func bind(ctx context.Context, js jetstream.JetStream, bucket string, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	obs, err := js.ObjectStore(ctx, bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return obs, err
	}
	obs, err = js.CreateObjectStore(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		// Another node created it, with another configuration, meanwhile.
		return js.ObjectStore(ctx, bucket)
	}
	return obs, err
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

func objectName(domain, id string) string { return domain + "/" + id }

func (s *Store) metaSubject(name string) string {
	return "$O." + s.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

func (s *Store) chunkSubject(nuid string) string { return "$O." + s.bucket + ".C." + nuid }

// Put stores the snapshot read from r as meta.Domain/meta.ID. See the
// package doc for what a failed Put leaves and for the race between two
// writers of one ID. When ctx ends, the upload stops at the reader's next
// Read; a Read that blocks is not interrupted.
func (s *Store) Put(ctx context.Context, meta snapshot.Meta, r io.Reader) (snapshot.Meta, error) {
	if err := snapshot.CheckID(meta.Domain, meta.ID); err != nil {
		return snapshot.Meta{}, fmt.Errorf("put snapshot in bucket %s: %w", s.bucket, err)
	}
	name := objectName(meta.Domain, meta.ID)
	fail := func(err error) (snapshot.Meta, error) {
		return snapshot.Meta{}, fmt.Errorf("put snapshot %s in bucket %s: %w", name, s.bucket, unavailable(err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	switch _, err := s.obs.GetInfo(ctx, name); {
	case err == nil:
		return fail(snapshot.ErrExists)
	case !errors.Is(err, jetstream.ErrObjectNotFound):
		return fail(err)
	}
	info, err := s.upload(ctx, name, meta, r)
	if err == nil {
		// A Put whose ctx ended leaves nothing visible, even when the
		// upload got through.
		err = ctx.Err()
	}
	if err != nil {
		s.removeFailed(ctx, name)
		return fail(err)
	}
	meta.Bytes = int64(info.Size)
	meta.Created = info.ModTime.UTC() // the client's clock; prefer the server's:
	if stored, err := s.obs.GetInfo(ctx, name); err == nil {
		meta.Created = stored.ModTime.UTC()
	}
	return meta, nil
}

// upload runs the object store's Put. The object store purges the chunks of
// a failed upload with the context it was given, which cannot work once
// that context has ended; so it gets one that does not end (each of its
// publishes is still bounded by the JetStream timeout), and the caller's ctx
// stops the upload through the reader instead.
func (s *Store) upload(ctx context.Context, name string, meta snapshot.Meta, r io.Reader) (*jetstream.ObjectInfo, error) {
	om := jetstream.ObjectMeta{
		Name: name,
		Metadata: map[string]string{
			metaDomain: meta.Domain,
			metaID:     meta.ID,
			metaSeq:    strconv.FormatUint(meta.Seq, 10),
		},
	}
	return s.obs.Put(context.WithoutCancel(ctx), om, &ctxReader{ctx: ctx, r: r})
}

// ctxReader ends a read stream when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// removeFailed removes the object name after a failed upload if it became
// visible anyway: the info message was stored but its acknowledgement was
// lost, or a chunk publish failed after the info message went out, or the
// caller's ctx ended as the upload finished. Put checked that name was free,
// so an object found now is this Put's (see the package doc on races). Best
// effort: what it cannot remove is left to Cleanup.
func (s *Store) removeFailed(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	if info, err := s.obs.GetInfo(ctx, name); err == nil {
		_ = s.remove(ctx, info)
	}
}

// remove purges an object's info message, which makes it invisible at once,
// then its chunks. Unlike the object store's Delete it leaves no delete
// marker behind, so deleted snapshots cost nothing in the bucket.
func (s *Store) remove(ctx context.Context, info *jetstream.ObjectInfo) error {
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.metaSubject(info.Name))); err != nil {
		return fmt.Errorf("purge info: %w", err)
	}
	if info.NUID == "" {
		return nil
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.chunkSubject(info.NUID))); err != nil {
		return fmt.Errorf("purge chunks (Cleanup removes them): %w", err)
	}
	return nil
}

// Open returns a reader that streams the snapshot from the bucket, a few
// chunks ahead of the caller, and checks its size and SHA-256 digest at
// the end (a mismatch is snapshot.ErrCorrupt). The reader is bound to ctx:
// it fails once ctx ends. Close it to release its consumer.
func (s *Store) Open(ctx context.Context, domain, id string) (io.ReadCloser, snapshot.Meta, error) {
	if err := snapshot.CheckID(domain, id); err != nil {
		return nil, snapshot.Meta{}, fmt.Errorf("open snapshot in bucket %s: %w", s.bucket, err)
	}
	name := objectName(domain, id)
	fail := func(err error) (io.ReadCloser, snapshot.Meta, error) {
		return nil, snapshot.Meta{}, fmt.Errorf("open snapshot %s in bucket %s: %w", name, s.bucket, unavailable(err))
	}
	info, err := s.obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fail(snapshot.ErrNotFound)
	}
	if err != nil {
		return fail(err)
	}
	m, err := metaOf(info)
	if err != nil {
		return fail(err)
	}
	rd, err := s.newReader(ctx, info)
	if err != nil {
		return fail(err)
	}
	return rd, m, nil
}

// List returns domain's snapshots, newest (highest seq, then ID) first. It
// reads the info of every object in the bucket (all domains), not their
// bytes.
func (s *Store) List(ctx context.Context, domain string) ([]snapshot.Meta, error) {
	fail := func(err error) ([]snapshot.Meta, error) {
		return nil, fmt.Errorf("list snapshots of %s in bucket %s: %w", domain, s.bucket, unavailable(err))
	}
	if err := snapshot.CheckID(domain, snapshot.NewID(0, 0)); err != nil {
		return fail(err)
	}
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return fail(err)
	}
	var metas []snapshot.Meta
	for _, info := range infos {
		id, ok := strings.CutPrefix(info.Name, domain+"/")
		if !ok || snapshot.CheckID(domain, id) != nil {
			continue // another domain's, or not a snapshot
		}
		m, err := metaOf(info)
		if err != nil {
			return fail(err)
		}
		metas = append(metas, m)
	}
	sort.Slice(metas, func(i, j int) bool {
		if metas[i].Seq != metas[j].Seq {
			return metas[i].Seq > metas[j].Seq
		}
		return metas[i].ID > metas[j].ID
	})
	return metas, nil
}

// Delete removes a snapshot: its info message first, then its chunks.
func (s *Store) Delete(ctx context.Context, domain, id string) error {
	if err := snapshot.CheckID(domain, id); err != nil {
		return fmt.Errorf("delete snapshot in bucket %s: %w", s.bucket, err)
	}
	name := objectName(domain, id)
	info, err := s.obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		err = snapshot.ErrNotFound
	}
	if err == nil {
		err = s.remove(ctx, info)
	}
	if err != nil {
		return fmt.Errorf("delete snapshot %s in bucket %s: %w", name, s.bucket, err)
	}
	return nil
}

// metaOf reads a snapshot's Meta from its object info; metadata that does
// not match the object's name is snapshot.ErrCorrupt.
func metaOf(info *jetstream.ObjectInfo) (snapshot.Meta, error) {
	md := info.Metadata
	m := snapshot.Meta{
		Domain:  md[metaDomain],
		ID:      md[metaID],
		Bytes:   int64(info.Size),
		Created: info.ModTime.UTC(),
	}
	seq, err := strconv.ParseUint(md[metaSeq], 10, 64)
	if err != nil || objectName(m.Domain, m.ID) != info.Name {
		return snapshot.Meta{}, fmt.Errorf("%w: object %s: metadata %s=%q %s=%q %s=%q does not describe it",
			snapshot.ErrCorrupt, info.Name, metaDomain, m.Domain, metaID, m.ID, metaSeq, md[metaSeq])
	}
	m.Seq = seq
	return m, nil
}
