package snapshot

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sopd/sop/vfs"
)

// Dir is a Store in a local directory, the default. Domain d's snapshot id
// is the file <path>/<d>/<id>.snap. Meta.Bytes is the file's size and
// Meta.Created its modification time (the time Put finished writing it; a
// copy that does not keep modification times changes it, and on a file
// system that keeps none, such as vfs.MemFS, it is the zero time). Seq is
// read from the ID, so Put rejects a Meta whose Seq is not its ID's.
//
// Put writes to a temporary file in the domain's directory, named
// .<id>.<random>.tmp, fsyncs it, renames it to <id>.snap and fsyncs the
// directory, so a snapshot is visible only complete and durable. A crash
// can leave a temporary file behind. List ignores them; the next Put to
// the domain removes those not modified for an hour (staleTemp). A running
// Put keeps writing its own, so only one whose input stalls that long can
// lose it, and then it fails instead of publishing anything.
//
// One Dir serializes the existence check and the rename of Put, so two
// concurrent Puts of one ID through it give one ErrExists. Two processes
// sharing a directory are not protected from each other that way; IDs carry
// 32 random bits so that they do not collide.
type Dir struct {
	fs   vfs.FS
	path string
	mu   sync.Mutex // held from Put's existence check to its rename, and by Delete
}

var _ Store = (*Dir)(nil)

// staleTemp is how long a temporary file must have gone unmodified before
// a Put takes it as left by a crash and removes it.
const staleTemp = time.Hour

// NewDir returns the Dir store at path on the operating system's file
// system, creating the directory if needed.
func NewDir(path string) (*Dir, error) { return NewDirFS(vfs.Default, path) }

// NewDirFS is NewDir on fsys, for tests that inject faults or crashes.
func NewDirFS(fsys vfs.FS, path string) (*Dir, error) {
	if err := fsys.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: create dir: %w", err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("snapshot: sync dir: %w", err)
	}
	return &Dir{fs: fsys, path: path}, nil
}

func (d *Dir) file(domain, id string) string {
	return filepath.Join(d.path, domain, id+".snap")
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, meta Meta, r io.Reader) (Meta, error) {
	if err := checkMeta(meta); err != nil {
		return Meta{}, err
	}
	dir, final := filepath.Join(d.path, meta.Domain), d.file(meta.Domain, meta.ID)
	if err := d.checkFree(final); err != nil {
		return Meta{}, err
	}
	if err := d.fs.MkdirAll(dir, 0o755); err != nil {
		return Meta{}, fmt.Errorf("snapshot: create dir: %w", err)
	}
	if err := d.fs.SyncDir(d.path); err != nil {
		return Meta{}, fmt.Errorf("snapshot: sync dir: %w", err)
	}
	d.removeStaleTemps(dir)
	tmp := filepath.Join(dir, "."+meta.ID+"."+randomHex()+".tmp")
	fi, err := d.writeTemp(ctx, tmp, r)
	if err == nil {
		err = d.publish(ctx, tmp, final)
	}
	if err != nil {
		_ = d.fs.Remove(tmp)
		return Meta{}, err
	}
	if err := d.fs.SyncDir(dir); err != nil {
		_ = d.fs.Remove(final) // not durable: take it back
		return Meta{}, fmt.Errorf("snapshot: sync dir: %w", err)
	}
	// A rename keeps the modification time, so the temporary file's is the
	// snapshot's.
	meta.Bytes, meta.Created = fi.Size(), fi.ModTime()
	return meta, nil
}

// checkMeta checks domain and ID, and that Seq is the ID's.
func checkMeta(m Meta) error {
	if err := CheckID(m.Domain, m.ID); err != nil {
		return err
	}
	if seq, ok := idSeq(m.ID); !ok || seq != m.Seq {
		return fmt.Errorf("%w: %q does not name seq %d", ErrBadID, m.ID, m.Seq)
	}
	return nil
}

// idSeq returns the seq an ID names.
func idSeq(id string) (uint64, bool) {
	seq, err := strconv.ParseUint(id[:20], 10, 64)
	return seq, err == nil
}

func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// writeTemp copies r to a new file at name, makes its contents durable
// and returns what Stat says of it.
func (d *Dir) writeTemp(ctx context.Context, name string, r io.Reader) (fs.FileInfo, error) {
	f, err := d.fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("snapshot: create %s: %w", name, err)
	}
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(writerOnly{f}, ctxReader{ctx, r}, buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: write %s: %w", name, err)
	}
	fi, err := d.fs.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("snapshot: stat %s: %w", name, err)
	}
	return fi, nil
}

// publish renames tmp to final unless final exists or ctx ended.
func (d *Dir) publish(ctx context.Context, tmp, final string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.checkFree(final); err != nil {
		return err
	}
	if err := d.fs.Rename(tmp, final); err != nil {
		return fmt.Errorf("snapshot: publish %s: %w", final, err)
	}
	return nil
}

// checkFree returns nil if no file is named name: ErrExists if one is, and
// any other error of Stat as it is, since a rename would replace the file.
func (d *Dir) checkFree(name string) error {
	_, err := d.fs.Stat(name)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s", ErrExists, name)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("snapshot: stat %s: %w", name, err)
}

// removeStaleTemps removes the temporary files in dir that no Put has
// written to for staleTemp. It is best effort: a failure leaves them for
// the next Put.
func (d *Dir) removeStaleTemps(dir string) {
	names, err := d.fs.List(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".tmp") {
			continue
		}
		p := filepath.Join(dir, n)
		if fi, err := d.fs.Stat(p); err == nil && !fi.ModTime().IsZero() && time.Since(fi.ModTime()) > staleTemp {
			_ = d.fs.Remove(p)
		}
	}
}

// Open implements Store. The caller must Close the reader.
func (d *Dir) Open(ctx context.Context, domain, id string) (io.ReadCloser, Meta, error) {
	if err := CheckID(domain, id); err != nil {
		return nil, Meta{}, err
	}
	m, err := d.stat(domain, id)
	if err != nil {
		return nil, Meta{}, err
	}
	f, err := d.fs.Open(d.file(domain, id))
	if err != nil {
		return nil, Meta{}, d.fileErr(domain, id, err)
	}
	return f, m, nil
}

// stat returns the Meta of a stored snapshot.
func (d *Dir) stat(domain, id string) (Meta, error) {
	seq, ok := idSeq(id)
	if !ok {
		return Meta{}, fmt.Errorf("%w: %s/%s", ErrNotFound, domain, id)
	}
	fi, err := d.fs.Stat(d.file(domain, id))
	if err != nil {
		return Meta{}, d.fileErr(domain, id, err)
	}
	return Meta{ID: id, Domain: domain, Seq: seq, Bytes: fi.Size(), Created: fi.ModTime()}, nil
}

func (d *Dir) fileErr(domain, id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s/%s", ErrNotFound, domain, id)
	}
	return fmt.Errorf("snapshot: %s/%s: %w", domain, id, err)
}

// List implements Store. A domain with no snapshots has an empty list.
func (d *Dir) List(ctx context.Context, domain string) ([]Meta, error) {
	if err := CheckID(domain, NewID(0, 0)); err != nil {
		return nil, err
	}
	names, err := d.fs.List(filepath.Join(d.path, domain))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: list %s: %w", domain, err)
	}
	var metas []Meta
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".snap")
		if !ok || !idRule.MatchString(id) {
			continue
		}
		m, err := d.stat(domain, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile, or an ID naming no seq
		}
		if err != nil {
			return nil, err
		}
		metas = append(metas, m)
	}
	slices.SortFunc(metas, newestFirst)
	return metas, nil
}

// newestFirst orders Metas as List returns them.
func newestFirst(a, b Meta) int {
	return cmp.Or(cmp.Compare(b.Seq, a.Seq), strings.Compare(b.ID, a.ID))
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, domain, id string) error {
	if err := CheckID(domain, id); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fs.Remove(d.file(domain, id)); err != nil {
		return d.fileErr(domain, id, err)
	}
	if err := d.fs.SyncDir(filepath.Join(d.path, domain)); err != nil {
		return fmt.Errorf("snapshot: sync dir: %w", err)
	}
	return nil
}

// ctxReader fails reads once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writerOnly hides a file's ReadFrom so io.CopyBuffer uses its buffer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
