package projector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sopd/sop/btree"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/journal"
)

// catalogVersion is the first byte of an encoded Catalog.
const catalogVersion = 1

// ErrBadCatalog marks bytes that are not a valid encoded Catalog.
var ErrBadCatalog = errors.New("projector: bad catalog encoding")

// StoreInfo describes one store of a domain.
type StoreInfo struct {
	Name    string
	Tree    btree.TreeID
	Index   index.Spec // nil for a plain byte-key store
	Created uint64     // seq of the entry that created it
}

// Catalog is the immutable list of a domain's stores. The zero value is
// not usable; start from NewCatalog.
type Catalog struct {
	stores   map[string]StoreInfo
	nextTree btree.TreeID
}

// firstTree is the first tree id a catalog hands out.
const firstTree btree.TreeID = 1

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{stores: map[string]StoreInfo{}, nextTree: firstTree}
}

// Store returns the store called name.
func (c *Catalog) Store(name string) (StoreInfo, bool) {
	s, ok := c.stores[name]
	return s, ok
}

// Len is the number of stores.
func (c *Catalog) Len() int { return len(c.stores) }

// Stores lists the stores sorted by name. The slice is the caller's.
func (c *Catalog) Stores() []StoreInfo {
	out := make([]StoreInfo, 0, len(c.stores))
	for _, s := range c.stores {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b StoreInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NextTree is the tree id the next created store gets.
func (c *Catalog) NextTree() btree.TreeID { return c.nextTree }

// withStore returns a copy of c with store s added under the next tree id.
func (c *Catalog) withStore(name string, fields []journal.IndexField, seq uint64) (*Catalog, StoreInfo) {
	n := c.clone()
	s := StoreInfo{Name: name, Tree: n.nextTree, Index: Spec(fields), Created: seq}
	n.stores[name] = s
	n.nextTree++
	return n, s
}

// without returns a copy of c without store name.
func (c *Catalog) without(name string) *Catalog {
	n := c.clone()
	delete(n.stores, name)
	return n
}

func (c *Catalog) clone() *Catalog {
	n := &Catalog{stores: make(map[string]StoreInfo, len(c.stores)+1), nextTree: c.nextTree}
	for k, v := range c.stores {
		n.stores[k] = v
	}
	return n
}

// MarshalBinary encodes the catalog (layout in the package doc).
func (c *Catalog) MarshalBinary() ([]byte, error) {
	b := []byte{catalogVersion}
	b = binary.AppendUvarint(b, uint64(c.nextTree))
	stores := c.Stores()
	b = binary.AppendUvarint(b, uint64(len(stores)))
	for _, s := range stores {
		b = appendString(b, s.Name)
		b = binary.AppendUvarint(b, uint64(s.Tree))
		b = binary.AppendUvarint(b, s.Created)
		b = binary.AppendUvarint(b, uint64(len(s.Index)))
		for _, f := range s.Index {
			b = appendString(b, f.Name)
			desc := byte(0)
			if f.Desc {
				desc = 1
			}
			b = append(b, desc)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UnmarshalBinary decodes an encoded catalog into c. Errors wrap
// ErrBadCatalog and name what is wrong.
func (c *Catalog) UnmarshalBinary(b []byte) error {
	d := catDecoder{b: b}
	n, err := d.catalog()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadCatalog, err)
	}
	*c = *n
	return nil
}

type catDecoder struct {
	b   []byte
	err error
}

func (d *catDecoder) catalog() (*Catalog, error) {
	if len(d.b) == 0 || d.b[0] != catalogVersion {
		return nil, errors.New("missing or unknown format version")
	}
	d.b = d.b[1:]
	c := NewCatalog()
	c.nextTree = btree.TreeID(d.uvarint())
	n := d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		s := d.store()
		if _, dup := c.stores[s.Name]; dup && d.err == nil {
			d.err = fmt.Errorf("store %q twice", s.Name)
		}
		if d.err == nil && (s.Tree < firstTree || s.Tree >= c.nextTree) {
			d.err = fmt.Errorf("store %q has tree id %d outside [%d, %d)", s.Name, s.Tree, firstTree, c.nextTree)
		}
		c.stores[s.Name] = s
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return c, d.err
}

func (d *catDecoder) store() StoreInfo {
	s := StoreInfo{Name: d.string()}
	s.Tree = btree.TreeID(d.uvarint())
	s.Created = d.uvarint()
	nf := d.count()
	for j := uint64(0); j < nf && d.err == nil; j++ {
		f := index.Field{Name: d.string()}
		f.Desc = d.byte() == 1
		s.Index = append(s.Index, f)
	}
	return s
}

func (d *catDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or overlong number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks that the rest could hold that many
// items of at least one byte each, so hostile lengths allocate nothing.
func (d *catDecoder) count() uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return n
}

func (d *catDecoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *catDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errors.New("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}
