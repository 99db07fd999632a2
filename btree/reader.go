package btree

import "fmt"

// Reader reads one pinned version of every tree. Pages that version
// references are not reused until Release, so slices it returns stay valid
// until then. A Reader may be used from one goroutine at a time; open one per
// goroutine.
type Reader struct {
	f *Forest
	v *version
}

// NewReader pins the current version.
func (f *Forest) NewReader() (*Reader, error) {
	if f.closed.Load() {
		return nil, ErrClosed
	}
	return &Reader{f: f, v: f.pin()}, nil
}

// Release unpins the version. The reader and every slice it returned must
// not be used afterwards. Release is idempotent.
func (r *Reader) Release() {
	if r.v != nil {
		r.f.unpin(r.v)
		r.v = nil
	}
}

// Version is the pinned version.
func (r *Reader) Version() uint64 { return r.v.seq }

// Trees lists the pinned version's trees sorted by id.
func (r *Reader) Trees() []TreeRoot { return sortedTrees(r.v.trees) }

// Tree describes one tree.
func (r *Reader) Tree(id TreeID) (TreeRoot, bool) {
	t, ok := r.v.trees[id]
	return t, ok
}

func (r *Reader) tree(id TreeID) (TreeRoot, error) {
	if r.v == nil {
		return TreeRoot{}, ErrClosed
	}
	t, ok := r.v.trees[id]
	if !ok {
		return TreeRoot{}, fmt.Errorf("%w: %d", ErrTreeNotFound, id)
	}
	return t, nil
}

// Get returns key's value in tree, and whether it exists.
func (r *Reader) Get(tree TreeID, key []byte) ([]byte, bool, error) {
	t, err := r.tree(tree)
	if err != nil {
		return nil, false, err
	}
	return r.f.get(t.Root, key)
}

// Cursor returns a cursor over tree within bounds. It is unpositioned: call
// First, Last, Seek or SeekLT.
func (r *Reader) Cursor(tree TreeID, bounds Bounds) (*Cursor, error) {
	t, err := r.tree(tree)
	if err != nil {
		return nil, err
	}
	return newCursor(r.f, t.Root, bounds), nil
}
