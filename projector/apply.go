package projector

import (
	"errors"
	"fmt"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/journal"
)

// Errors of Apply. A rejection wraps ErrRejected and one of the reasons
// below; any other error comes from the Writer, and leaves the batch in an
// unknown state: the caller aborts it.
var (
	ErrRejected        = errors.New("projector: entry rejected")
	ErrConditionFailed = errors.New("condition failed")
	ErrStoreNotFound   = errors.New("store not found")
	ErrStoreExists     = errors.New("store exists")
	ErrBadKey          = errors.New("key is not a compound key of the store's index specification")
)

// Writer is the part of a B-tree write batch the projector uses
// (*btree.Batch implements it).
type Writer interface {
	CreateTree(id btree.TreeID) error
	DropTree(id btree.TreeID) error
	Get(tree btree.TreeID, key []byte) ([]byte, bool, error)
	Put(tree btree.TreeID, key, value []byte) error
	Delete(tree btree.TreeID, key []byte) (bool, error)
}

var _ Writer = (*btree.Batch)(nil)

// Event is one change an applied entry made. Key, Value and OldValue are
// the event's own (they do not alias the B-tree); Key and Value may alias
// the entry.
type Event struct {
	Seq        uint64
	OpIndex    int // the op of the entry that made the change
	Store      string
	Op         journal.OpKind
	Key        []byte // put and delete
	Value      []byte // put
	OldValue   []byte // put and delete, with Options.OldValues, when the item existed
	OldVersion uint64 // put and delete: the replaced item's version; 0 when it was absent
}

// Options configure a Projector.
type Options struct {
	// OldValues: events of puts and deletes carry the value they replaced.
	// Costs a read per put.
	OldValues bool
}

// Projector applies entries to one domain's forest. It is not safe for
// concurrent use: one goroutine per domain applies.
type Projector struct {
	cat  *Catalog
	opts Options
	buf  []byte
}

// New returns a projector that starts from catalog cat (NewCatalog() for
// an empty domain).
func New(cat *Catalog, opts Options) *Projector {
	return &Projector{cat: cat, opts: opts}
}

// Catalog is the catalog after the entries applied so far. It is immutable:
// a reader may keep it.
func (p *Projector) Catalog() *Catalog { return p.cat }

// Reset replaces the catalog, after the caller aborted the batch the
// projector was writing to.
func (p *Projector) Reset(cat *Catalog) { p.cat = cat }

// Apply applies entry e, committed at seq, to w, calling emit (if not nil)
// for every change in order. See the package doc for when it rejects.
func (p *Projector) Apply(w Writer, seq uint64, e *journal.Entry, emit func(Event)) error {
	if seq == 0 {
		return fmt.Errorf("%w: seq 0", ErrRejected)
	}
	if err := p.Check(w, e); err != nil {
		return err
	}
	for i := range e.Ops {
		var opEmit func(Event)
		if emit != nil {
			opEmit = func(ev Event) {
				ev.OpIndex = i
				emit(ev)
			}
		}
		if err := p.apply(w, seq, &e.Ops[i], opEmit); err != nil {
			return fmt.Errorf("apply op %d of seq %d: %w", i, seq, err)
		}
	}
	return nil
}

// Check reports whether Apply would reject e on the state w holds, without
// changing anything. The error wraps ErrRejected and the reason.
func (p *Projector) Check(w Writer, e *journal.Entry) error {
	for i := range e.Conds {
		ok, err := p.holds(w, &e.Conds[i])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %w: %s on store %q key %q", ErrRejected, ErrConditionFailed, e.Conds[i].Kind, e.Conds[i].Store, e.Conds[i].Key)
		}
	}
	return p.checkOps(e.Ops)
}

// checkOps walks the ops over a sketch of the catalog: which stores exist
// at each point of the entry, and their index specifications.
func (p *Projector) checkOps(ops []journal.Op) error {
	var changed map[string]*journal.Op // store -> its create op, or nil once dropped, for stores the entry changed
	lookup := func(name string) (index.Spec, bool) {
		if op, ok := changed[name]; ok {
			if op == nil {
				return nil, false
			}
			return Spec(op.Index), true
		}
		s, ok := p.cat.Store(name)
		return s.Index, ok
	}
	for i := range ops {
		op := &ops[i]
		spec, there := lookup(op.Store)
		switch {
		case op.Kind == journal.OpCreateStore && there:
			return fmt.Errorf("%w: op %d: %w: %q", ErrRejected, i, ErrStoreExists, op.Store)
		case op.Kind != journal.OpCreateStore && !there:
			return fmt.Errorf("%w: op %d: %w: %q", ErrRejected, i, ErrStoreNotFound, op.Store)
		case op.Kind == journal.OpPut && len(spec) > 0:
			if _, err := spec.Decode(op.Key); err != nil {
				return fmt.Errorf("%w: op %d: %w: store %q: %w", ErrRejected, i, ErrBadKey, op.Store, err)
			}
		}
		if op.Kind == journal.OpCreateStore || op.Kind == journal.OpDropStore {
			if changed == nil {
				changed = map[string]*journal.Op{}
			}
			changed[op.Store] = nil
			if op.Kind == journal.OpCreateStore {
				changed[op.Store] = op
			}
		}
	}
	return nil
}

// Spec converts an index specification as journal entries carry it; nil
// for none.
func Spec(fields []journal.IndexField) index.Spec {
	if len(fields) == 0 {
		return nil
	}
	spec := make(index.Spec, len(fields))
	for i, f := range fields {
		spec[i] = index.Field{Name: f.Field, Desc: f.Desc}
	}
	return spec
}

// holds evaluates one condition on the state w holds.
func (p *Projector) holds(w Writer, c *journal.Cond) (bool, error) {
	version, err := p.version(w, c.Store, c.Key)
	if err != nil {
		return false, err
	}
	switch c.Kind {
	case journal.CondAbsent:
		return version == 0, nil
	case journal.CondPresent:
		return version != 0, nil
	default:
		return version == c.Version, nil
	}
}

// version returns the version of an item, 0 when it (or its store) does
// not exist.
func (p *Projector) version(w Writer, store string, key []byte) (uint64, error) {
	s, ok := p.cat.Store(store)
	if !ok {
		return 0, nil
	}
	b, ok, err := w.Get(s.Tree, key)
	if err != nil || !ok {
		return 0, err
	}
	v, _, err := DecodeItem(b)
	if err != nil {
		return 0, fmt.Errorf("store %q key %q: %w", store, key, err)
	}
	return v, nil
}

func (p *Projector) apply(w Writer, seq uint64, op *journal.Op, emit func(Event)) error {
	switch op.Kind {
	case journal.OpCreateStore:
		cat, s := p.cat.withStore(op.Store, op.Index, seq)
		if err := w.CreateTree(s.Tree); err != nil {
			return err
		}
		p.cat = cat
	case journal.OpDropStore:
		s, _ := p.cat.Store(op.Store)
		if err := w.DropTree(s.Tree); err != nil {
			return err
		}
		p.cat = p.cat.without(op.Store)
	case journal.OpPut:
		return p.put(w, seq, op, emit)
	case journal.OpDelete:
		return p.delete(w, seq, op, emit)
	}
	if emit != nil {
		emit(Event{Seq: seq, Store: op.Store, Op: op.Kind})
	}
	return nil
}

func (p *Projector) put(w Writer, seq uint64, op *journal.Op, emit func(Event)) error {
	s, _ := p.cat.Store(op.Store)
	ev := Event{Seq: seq, Store: op.Store, Op: op.Kind, Key: op.Key, Value: op.Value}
	if emit != nil {
		if err := p.old(w, s.Tree, op.Key, &ev); err != nil {
			return err
		}
	}
	p.buf = AppendItem(p.buf[:0], seq, op.Value)
	if err := w.Put(s.Tree, op.Key, p.buf); err != nil {
		return err
	}
	if emit != nil {
		emit(ev)
	}
	return nil
}

func (p *Projector) delete(w Writer, seq uint64, op *journal.Op, emit func(Event)) error {
	s, _ := p.cat.Store(op.Store)
	ev := Event{Seq: seq, Store: op.Store, Op: op.Kind, Key: op.Key}
	if emit != nil {
		if err := p.old(w, s.Tree, op.Key, &ev); err != nil {
			return err
		}
	}
	existed, err := w.Delete(s.Tree, op.Key)
	if err != nil {
		return err
	}
	if existed && emit != nil {
		emit(ev)
	}
	return nil
}

// old fills in the version (and, with OldValues, the value) an op replaces.
// The version is read only when the old value is asked for, or when the
// delete's event needs it: a cheap Get either way.
func (p *Projector) old(w Writer, tree btree.TreeID, key []byte, ev *Event) error {
	b, ok, err := w.Get(tree, key)
	if err != nil || !ok {
		return err
	}
	v, val, err := DecodeItem(b)
	if err != nil {
		return fmt.Errorf("store %q key %q: %w", ev.Store, key, err)
	}
	ev.OldVersion = v
	if p.opts.OldValues {
		ev.OldValue = append([]byte(nil), val...)
	}
	return nil
}
