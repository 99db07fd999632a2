package btree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Load fills the empty tree from sorted input, building it bottom-up with
// full pages: next returns key/value pairs in strictly increasing key order
// and io.EOF at the end. Keys and values are copied. Completed pages are
// written out as the load goes, so memory stays bounded. On error the batch
// should be aborted.
func (b *Batch) Load(tree TreeID, next func() (key, value []byte, err error)) error {
	t, err := b.tree(tree)
	if err != nil {
		return err
	}
	if t.Count != 0 {
		return fmt.Errorf("%w: tree %d has %d keys", ErrTreeNotEmpty, tree, t.Count)
	}
	l := loader{b: b}
	if err := l.leaves(next); err != nil {
		return err
	}
	root, err := l.branches()
	if err != nil {
		return err
	}
	if root != 0 {
		b.freePage(t.Root)
		t.Root = root
	}
	t.Count = l.count
	b.setTree(t)
	return nil
}

type loader struct {
	b        *Batch
	count    uint64
	level    []childRef // built pages of the level below
	done     []PageID   // completed pages not yet written
	prev     []byte
	cur      page
	curID    PageID
	prevPage page   // the page completed before cur
	arena    []byte // the cells of cur, built into it when it completes
	ends     []int  // end offset of each cell in arena
}

type childRef struct {
	sep []byte // separator from the previous sibling; nil for the first
	id  PageID
}

const loadSpillPages = 256

func (l *loader) leaves(next func() ([]byte, []byte, error)) error {
	for {
		k, v, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
		if err := checkKV(k, v); err != nil {
			return err
		}
		if l.count > 0 && bytes.Compare(k, l.prev) <= 0 {
			return fmt.Errorf("%w: %q after %q", ErrUnsorted, k, l.prev)
		}
		cell, err := l.b.leafCell(k, v)
		if err != nil {
			return err
		}
		if l.cur == nil || !l.room(len(cell)) {
			var sep []byte
			if l.cur != nil {
				sep = shortestSeparator(l.prev, k)
			}
			if err := l.startPage(typeLeaf, sep); err != nil {
				return err
			}
		}
		l.add(cell)
		l.prev = append(l.prev[:0], k...)
		l.count++
	}
	return l.finishLevel()
}

// startPage completes the current page and begins a new one whose
// separator from its left sibling is sep.
func (l *loader) startPage(typ byte, sep []byte) error {
	if l.cur != nil {
		l.buildCur()
		l.done = append(l.done, l.curID)
		// Spill all but the newest completed page, which finishLevel may
		// still change.
		if n := len(l.done); n >= loadSpillPages {
			if err := l.b.spillOwned(l.done[:n-1]); err != nil {
				return err
			}
			l.done = append(l.done[:0], l.done[n-1])
		}
	}
	l.prevPage = l.cur
	l.curID, l.cur = l.b.allocPage()
	l.cur.init(typ, l.curID)
	l.level = append(l.level, childRef{sep: sep, id: l.curID})
	return nil
}

// room reports whether a cell of n bytes still fits in the current page.
func (l *loader) room(n int) bool {
	return len(l.arena)+slotSize*len(l.ends)+n+slotSize <= usable(l.b.f.psize)
}

func (l *loader) add(cell []byte) {
	l.arena = append(l.arena, cell...)
	l.ends = append(l.ends, len(l.arena))
}

// buildCur writes the collected cells into the current page.
func (l *loader) buildCur() {
	cells := make([][]byte, len(l.ends))
	start := 0
	for i, end := range l.ends {
		cells[i], start = l.arena[start:end], end
	}
	l.cur.build(cells, l.b.f.scratch)
	l.arena, l.ends = l.arena[:0], l.ends[:0]
}

func (l *loader) finishLevel() error {
	if l.cur != nil {
		if len(l.ends) > 0 {
			l.buildCur()
		}
		l.done = append(l.done, l.curID)
	}
	err := l.b.spillOwned(l.done)
	l.done, l.cur = l.done[:0], nil
	return err
}

// branches builds the levels above the leaves and returns the root (0 when
// the input was empty).
func (l *loader) branches() (PageID, error) {
	for len(l.level) > 1 {
		below := l.level
		l.level = nil
		for i, ref := range below {
			if i == 0 || !l.room(branchCellSize(len(ref.sep), l.b.f.psize)) {
				// The first child's separator moves up a level.
				if err := l.startPage(typeBranch, ref.sep); err != nil {
					return 0, err
				}
				l.add(branchCellBytes(nil, ref.id, 0, 0))
				continue
			}
			cell, err := l.b.branchCell(ref.sep, ref.id)
			if err != nil {
				return 0, err
			}
			l.add(cell)
		}
		l.buildCur()
		if err := l.borrowForLast(); err != nil {
			return 0, err
		}
		if err := l.finishLevel(); err != nil {
			return 0, err
		}
	}
	if len(l.level) == 0 {
		return 0, nil
	}
	return l.level[0].id, nil
}

// borrowForLast gives a level's last branch page, when it has a single
// child, the last child of its left neighbour, so that every branch keeps
// at least two children.
func (l *loader) borrowForLast() error {
	if l.cur.count() >= 2 || l.prevPage == nil {
		return nil
	}
	prev, last := l.prevPage, &l.level[len(l.level)-1]
	n := prev.count()
	moved := bytes.Clone(prev.cell(n - 1))
	prev.removeCell(n - 1)
	down, err := l.b.branchCell(last.sep, l.cur.childAt(0))
	if err != nil {
		return err
	}
	up, err := l.b.f.fullKey(prev, moved)
	if err != nil {
		return err
	}
	if moved[0]&flagBigKey != 0 {
		if err := l.b.freeChainOf(prev, moved); err != nil {
			return err
		}
	}
	last.sep = up
	l.cur.build([][]byte{branchCellBytes(nil, branchChild(moved), 0, 0), down}, l.b.f.scratch)
	return nil
}

// branchCellSize is the size of a branch cell for a key of klen bytes.
func branchCellSize(klen, pageSize int) int {
	if local := maxLocalKey(pageSize); klen > local {
		return branchCellHeader + local + 8
	}
	return branchCellHeader + klen
}
