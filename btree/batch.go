package btree

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Batch is the one open write transaction of a forest. It copies each page
// it touches once, and Commit publishes every tree's new root at once.
// Readers never see a batch's pages before Commit. A Batch is not safe for
// concurrent use. Slices returned by its Get and cursors are valid until the
// batch's next change.
type Batch struct {
	f       *Forest
	v       uint64              // the version Commit publishes
	trees   map[TreeID]TreeRoot // cloned on first change
	cloned  bool
	owned   map[PageID]struct{} // pages allocated by this batch and not freed
	freed   []PageID            // published pages this batch freed
	done    bool
	path    []frame
	cellBuf []byte // the leaf cell being inserted
}

// frame is one level of a root-to-leaf path: a page and the index taken in it
// (child index in a branch, cell index in a leaf).
type frame struct {
	id  PageID
	idx int
}

// Begin opens the write batch, waiting for the previous one to end.
func (f *Forest) Begin() (*Batch, error) {
	f.wmu.Lock()
	if f.closed.Load() {
		f.wmu.Unlock()
		return nil, ErrClosed
	}
	f.reclaim()
	cur := f.cur.Load()
	return &Batch{f: f, v: cur.seq + 1, trees: cur.trees, owned: map[PageID]struct{}{}}, nil
}

// Version is the version Commit will publish.
func (b *Batch) Version() uint64 { return b.v }

// Full reports whether the batch holds as many pages as the forest keeps
// dirty before a commit spills them (Options.SpillSize). A caller applying
// a long run of changes (a replay) may keep one batch open until it is
// full: each page is then copied and written once per batch, not once per
// smaller batch; and the batch never outgrows the cache.
func (b *Batch) Full() bool { return len(b.owned) >= b.f.spill }

// Trees lists the batch's trees sorted by id.
func (b *Batch) Trees() []TreeRoot { return sortedTrees(b.trees) }

// Tree returns one tree's description.
func (b *Batch) Tree(id TreeID) (TreeRoot, bool) {
	t, ok := b.trees[id]
	return t, ok
}

func (b *Batch) setTree(t TreeRoot) {
	if !b.cloned {
		b.trees = maps.Clone(b.trees)
		b.cloned = true
	}
	b.trees[t.ID] = t
}

func (b *Batch) check() error {
	if b.done {
		return ErrBatchDone
	}
	return nil
}

func (b *Batch) tree(id TreeID) (TreeRoot, error) {
	if err := b.check(); err != nil {
		return TreeRoot{}, err
	}
	t, ok := b.trees[id]
	if !ok {
		return TreeRoot{}, fmt.Errorf("%w: %d", ErrTreeNotFound, id)
	}
	return t, nil
}

// CreateTree adds an empty tree.
func (b *Batch) CreateTree(id TreeID) error {
	if err := b.check(); err != nil {
		return err
	}
	if _, ok := b.trees[id]; ok {
		return fmt.Errorf("%w: %d", ErrTreeExists, id)
	}
	root, p := b.allocPage()
	p.init(typeLeaf, root)
	b.setTree(TreeRoot{ID: id, Root: root})
	return nil
}

// DropTree removes a tree and frees all its pages.
func (b *Batch) DropTree(id TreeID) error {
	t, err := b.tree(id)
	if err != nil {
		return err
	}
	if err := b.freeSubtree(t.Root); err != nil {
		return err
	}
	if !b.cloned {
		b.trees = maps.Clone(b.trees)
		b.cloned = true
	}
	delete(b.trees, id)
	return nil
}

func (b *Batch) freeSubtree(id PageID) error {
	p, err := b.f.node(id)
	if err != nil {
		return err
	}
	for i := 0; i < p.count(); i++ {
		if err := b.freeChainOf(p, p.cell(i)); err != nil {
			return err
		}
		if !p.isLeaf() {
			if err := b.freeSubtree(p.childAt(i)); err != nil {
				return err
			}
		}
	}
	b.freePage(id)
	return nil
}

// Get reads key from the batch's state, its own writes included.
func (b *Batch) Get(tree TreeID, key []byte) ([]byte, bool, error) {
	t, err := b.tree(tree)
	if err != nil {
		return nil, false, err
	}
	return b.f.get(t.Root, key)
}

// Cursor iterates over the batch's state of a tree within bounds. The
// cursor is invalid after the batch's next change.
func (b *Batch) Cursor(tree TreeID, bounds Bounds) (*Cursor, error) {
	t, err := b.tree(tree)
	if err != nil {
		return nil, err
	}
	return newCursor(b.f, t.Root, bounds), nil
}

// Commit publishes the batch's trees atomically and ends the batch.
func (b *Batch) Commit() error {
	if err := b.check(); err != nil {
		return err
	}
	f := b.f
	if invariants {
		if err := b.verifyOwned(); err != nil {
			panic(err) // a broken invariant: the batch built a bad page
		}
	}
	b.done = true
	defer f.wmu.Unlock()
	for id := range b.owned {
		if e := f.cache.get(id); e != nil && e.owner == b.v && e.state == stateDirty {
			f.dirty = append(f.dirty, id)
		}
	}
	f.rewritten.Add(int64(len(b.owned)))
	f.lastCommit.Store(time.Now().UnixNano())
	var readersOnly, durable []PageID
	for _, id := range b.freed {
		e := f.cache.get(id)
		switch {
		case e == nil || e.born <= f.durable:
			durable = append(durable, id)
		default:
			if e.state == stateDirty {
				f.cache.setState(e, statePinned)
			}
			readersOnly = append(readersOnly, id)
		}
	}
	f.alloc.deferFree(b.v, readersOnly, durable)
	f.cur.Store(&version{seq: b.v, trees: b.trees})
	// Commit has published; a failed spill leaves the pages dirty, and the
	// next Flush writes them again and reports the error if it persists.
	if len(f.dirty) > f.spill && !f.spillFailed {
		f.spillFailed = f.writeDirty() != nil
	}
	return nil
}

// verifyOwned checks the structure of every page the batch wrote.
func (b *Batch) verifyOwned() error {
	for id := range b.owned {
		e := b.f.cache.get(id)
		if e == nil || e.owner != b.v {
			continue // spilled and evicted: verified when read back
		}
		if err := e.buf.verifyStructure(id); err != nil {
			return err
		}
		if e.buf.typ() != typeOverflow {
			if err := checkLayout(e.buf, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Abort discards the batch.
func (b *Batch) Abort() {
	if b.done {
		return
	}
	b.done = true
	f := b.f
	ids := make([]PageID, 0, len(b.owned))
	for id := range b.owned {
		f.cache.drop(id, true)
		ids = append(ids, id)
	}
	f.alloc.release(ids...)
	f.wmu.Unlock()
}

// allocPage allocates a page owned by the batch. Its contents are undefined.
func (b *Batch) allocPage() (PageID, page) {
	id := b.f.alloc.alloc()
	buf := b.f.cache.newBuf()
	b.f.cache.install(id, buf, b.v)
	b.owned[id] = struct{}{}
	return id, buf
}

// freePage frees a page the batch no longer references. A page the batch
// allocated itself is reusable at once; a published one when no reader and
// no durable checkpoint can reach it.
func (b *Batch) freePage(id PageID) {
	if _, ok := b.owned[id]; ok {
		delete(b.owned, id)
		b.f.cache.drop(id, true)
		b.f.alloc.release(id)
		return
	}
	b.freed = append(b.freed, id)
}

// writable returns a version of page id the batch may modify, copying it
// first when it is published.
func (b *Batch) writable(id PageID) (PageID, page, error) {
	e, err := b.f.entry(id)
	if err != nil {
		return 0, nil, err
	}
	if e.owner == b.v {
		return id, e.buf, nil
	}
	if t := e.buf.typ(); t != typeLeaf && t != typeBranch {
		return 0, nil, corruptf(id, "expected a branch or leaf page, found type %d", t)
	}
	nid, np := b.allocPage()
	if e.buf.garbage() == 0 {
		copy(np, e.buf)
	} else {
		np.compactFrom(e.buf)
	}
	np.setID(nid)
	b.freePage(id)
	return nid, np, nil
}

// writableChild makes child i of the (writable) branch p writable, updating
// p's pointer.
func (b *Batch) writableChild(p page, i int) (PageID, page, error) {
	id := p.childAt(i)
	nid, np, err := b.writable(id)
	if err == nil && nid != id {
		setBranchChild(p.cell(i), nid)
	}
	return nid, np, err
}

// descend finds the path to key's leaf in the tree at root. The last frame's
// idx is the key's position in the leaf.
func (b *Batch) descend(root PageID, key []byte) ([]frame, bool, error) {
	path := b.path[:0]
	id := root
	for {
		p, err := b.f.node(id)
		if err != nil {
			return nil, false, err
		}
		if p.isLeaf() {
			i, found, err := b.f.searchLeaf(p, key)
			b.path = append(path, frame{id, i})
			return b.path, found, err
		}
		i, err := b.f.searchBranch(p, key)
		if err != nil {
			return nil, false, err
		}
		path = append(path, frame{id, i})
		id = p.childAt(i)
	}
}

// cowPath makes every page on path writable, top-down, fixing parent
// pointers and the tree's root.
func (b *Batch) cowPath(t *TreeRoot, path []frame) error {
	for l := range path {
		nid, _, err := b.writable(path[l].id)
		if err != nil {
			return err
		}
		if nid == path[l].id {
			continue
		}
		path[l].id = nid
		if l == 0 {
			t.Root = nid
			continue
		}
		parent := b.ownedPage(path[l-1].id)
		setBranchChild(parent.cell(path[l-1].idx), nid)
	}
	return nil
}

// ownedPage returns a page the batch owns (and so holds in the cache).
func (b *Batch) ownedPage(id PageID) page {
	e := b.f.cache.get(id)
	if e == nil || e.owner != b.v {
		panic(fmt.Sprintf("btree: page %d is not owned by batch %d", id, b.v))
	}
	return e.buf
}

// spillOwned writes pages the batch allocated and will not change again,
// so that a large batch (a bulk load) does not hold them all in memory. They
// become clean and evictable; the next Flush syncs them.
func (b *Batch) spillOwned(ids []PageID) error { return b.f.writePages(ids) }

func sortedTrees(m map[TreeID]TreeRoot) []TreeRoot {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b TreeRoot) int { return cmpID(a.ID, b.ID) })
	return out
}
