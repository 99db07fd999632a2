package journal

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// FormatVersion is the first byte of every encoded Entry. A decoder rejects
// any other value; a change that older decoders must not misread gets a new
// version, while new optional keys do not (unknown keys are skipped).
const FormatVersion = 1

// Limits of one Entry. Validate enforces them, and the decoder checks every
// declared length against them before it allocates. The whole encoded entry
// must also fit in one JetStream message (the server's max_payload).
const (
	MaxTxIDSize    = 128      // TxID: visible ASCII, it becomes the Nats-Msg-Id header
	MaxDomainName  = 255      // bytes of Domain
	MaxNodeName    = 255      // bytes of Node
	MaxStoreName   = 255      // bytes of a store name
	MaxFieldName   = 255      // bytes of an index field name
	MaxIndexFields = 64       // fields in one index specification
	MaxKeySize     = 4 << 10  // bytes of a key; equals btree.MaxKeySize
	MaxValueSize   = 16 << 20 // bytes of a value; equals btree.MaxValueSize
	MaxOps         = 1 << 16  // ops in one entry
	MaxConds       = 1 << 16  // conditions in one entry
)

// ErrBadEntry marks every entry that cannot be encoded or decoded: bytes that
// are not a well-formed entry of a known format version, or an entry that
// breaks a rule of Validate. The wrapping error names what is wrong, e.g.
// "journal: bad entry: op 3: put without a key".
var ErrBadEntry = errors.New("journal: bad entry")

// Entry is one committed transaction as appended to its domain's journal:
// the payload of one JetStream message whose Nats-Msg-Id header is TxID and
// whose stream sequence is the transaction's seq (its commit version).
type Entry struct {
	TxID        string // client-chosen or generated; the message's Nats-Msg-Id, so a retry cannot commit twice
	Domain      string // the domain whose journal holds the entry
	ReadVersion uint64 // the seq the transaction read at; 0 for a blind write
	Node        string // the node that committed it; may be empty
	Time        int64  // commit time in Unix nanoseconds; informational, the projector never reads it
	Conds       []Cond // the conditions the leader checked, recorded for audit and replay checks
	Ops         []Op   // the writes, applied in order
}

// OpKind says what an Op does.
type OpKind uint8

// Op kinds. The numbers are part of the format.
const (
	OpPut         OpKind = 1 // set Key to Value in Store
	OpDelete      OpKind = 2 // remove Key from Store
	OpCreateStore OpKind = 3 // create Store with the index specification Index
	OpDropStore   OpKind = 4 // remove Store and everything in it
)

func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpCreateStore:
		return "create-store"
	case OpDropStore:
		return "drop-store"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one write. Which fields it uses depends on Kind: a put has Store,
// Key and Value (which may be empty); a delete has Store and Key; a
// create-store has Store and Index (which may be empty); a drop-store has
// Store only. Validate rejects a field the kind does not use.
type Op struct {
	Kind  OpKind
	Store string
	Key   []byte
	Value []byte
	Index []IndexField
}

// IndexField is one field of a store's index specification: the store's
// keys are built from the named document fields, in order, each ascending
// or (Desc) descending.
type IndexField struct {
	Field string
	Desc  bool
}

// CondKind says what a Cond requires of an item.
type CondKind uint8

// Condition kinds. The numbers are part of the format.
const (
	CondVersion CondKind = 1 // the item exists and its version (the seq that last wrote it) is Version
	CondAbsent  CondKind = 2 // the item does not exist
	CondPresent CondKind = 3 // the item exists
)

func (k CondKind) String() string {
	switch k {
	case CondVersion:
		return "version"
	case CondAbsent:
		return "absent"
	case CondPresent:
		return "present"
	}
	return fmt.Sprintf("CondKind(%d)", uint8(k))
}

// Cond is a condition on one item (Store, Key) that the leader checked
// before it appended the entry. Version is set for CondVersion only, and is
// never 0 there (no item has version 0; say CondAbsent instead).
type Cond struct {
	Kind    CondKind
	Store   string
	Key     []byte
	Version uint64
}

// MarshalBinary returns the encoding of e, after checking it with Validate.
// The result is deterministic: the same entry always encodes to the same
// bytes.
func (e *Entry) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, e.maxSize()))
}

// AppendBinary appends the encoding of e to dst and returns the extended
// buffer, after checking e with Validate; on error it returns dst unchanged.
// Reusing dst across calls makes encoding allocation-free.
func (e *Entry) AppendBinary(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	return appendEntry(append(dst, FormatVersion), e), nil
}

// UnmarshalBinary decodes b into e and checks the result with Validate. Any
// malformed, truncated or oversized input returns an error wrapping
// ErrBadEntry, and leaves e unchanged; the decoder never allocates more than
// the input's own size suggests, whatever lengths the input declares.
//
// Keys the format does not define are skipped (see the package doc). The
// decoded entry does not retain b. Empty byte strings and lists decode as
// nil.
func (e *Entry) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty input", ErrBadEntry)
	}
	if b[0] != FormatVersion {
		return fmt.Errorf("%w: format version %d, this build reads version %d", ErrBadEntry, b[0], FormatVersion)
	}
	d := decoder{b: b[1:]}
	var out Entry
	err := d.entry(&out)
	if err == nil && len(d.b) > 0 {
		err = fmt.Errorf("%d trailing bytes after the entry", len(d.b))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*e = out
	return nil
}

// Validate checks the rules every entry obeys (docs/FORMAT.md lists them).
// The error wraps ErrBadEntry and names the first rule broken.
func (e *Entry) Validate() error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	return nil
}

func (e *Entry) validate() error {
	if err := checkTxID(e.TxID); err != nil {
		return err
	}
	if e.Domain == "" {
		return errors.New("domain is empty")
	}
	if err := checkName("domain", e.Domain, MaxDomainName); err != nil {
		return err
	}
	if err := checkName("node", e.Node, MaxNodeName); err != nil {
		return err
	}
	if len(e.Conds) > MaxConds {
		return fmt.Errorf("%d conds, the limit is %d", len(e.Conds), MaxConds)
	}
	if len(e.Ops) > MaxOps {
		return fmt.Errorf("%d ops, the limit is %d", len(e.Ops), MaxOps)
	}
	for i := range e.Conds {
		if err := e.Conds[i].validate(); err != nil {
			return fmt.Errorf("cond %d: %w", i, err)
		}
	}
	for i := range e.Ops {
		if err := e.Ops[i].validate(); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

func (o *Op) validate() error {
	if o.Kind < OpPut || o.Kind > OpDropStore {
		return fmt.Errorf("unknown kind %d", o.Kind)
	}
	if err := checkStore(o.Store); err != nil {
		return err
	}
	keyed := o.Kind == OpPut || o.Kind == OpDelete
	switch {
	case keyed && len(o.Key) == 0:
		return fmt.Errorf("%s without a key", o.Kind)
	case !keyed && len(o.Key) > 0:
		return fmt.Errorf("%s with a key", o.Kind)
	case len(o.Key) > MaxKeySize:
		return fmt.Errorf("key of %d bytes, the limit is %d", len(o.Key), MaxKeySize)
	case o.Kind != OpPut && len(o.Value) > 0:
		return fmt.Errorf("%s with a value", o.Kind)
	case len(o.Value) > MaxValueSize:
		return fmt.Errorf("value of %d bytes, the limit is %d", len(o.Value), MaxValueSize)
	case o.Kind != OpCreateStore && len(o.Index) > 0:
		return fmt.Errorf("%s with an index", o.Kind)
	}
	return checkIndex(o.Index)
}

func checkIndex(index []IndexField) error {
	if len(index) > MaxIndexFields {
		return fmt.Errorf("index of %d fields, the limit is %d", len(index), MaxIndexFields)
	}
	for i, f := range index {
		if f.Field == "" {
			return fmt.Errorf("index field %d: name is empty", i)
		}
		if err := checkName("name", f.Field, MaxFieldName); err != nil {
			return fmt.Errorf("index field %d: %w", i, err)
		}
		for _, g := range index[:i] {
			if g.Field == f.Field {
				return fmt.Errorf("index field %d: duplicate name %q", i, f.Field)
			}
		}
	}
	return nil
}

func (c *Cond) validate() error {
	if c.Kind < CondVersion || c.Kind > CondPresent {
		return fmt.Errorf("unknown kind %d", c.Kind)
	}
	if err := checkStore(c.Store); err != nil {
		return err
	}
	switch {
	case len(c.Key) == 0:
		return fmt.Errorf("%s condition without a key", c.Kind)
	case len(c.Key) > MaxKeySize:
		return fmt.Errorf("key of %d bytes, the limit is %d", len(c.Key), MaxKeySize)
	case c.Kind == CondVersion && c.Version == 0:
		return errors.New("version condition with version 0 (no item has it; use absent)")
	case c.Kind != CondVersion && c.Version != 0:
		return fmt.Errorf("%s condition with a version", c.Kind)
	}
	return nil
}

func checkTxID(id string) error {
	if id == "" {
		return errors.New("tx id is empty")
	}
	if len(id) > MaxTxIDSize {
		return fmt.Errorf("tx id of %d bytes, the limit is %d", len(id), MaxTxIDSize)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("tx id has byte 0x%02x at %d: only visible ASCII (0x21-0x7e) is allowed", id[i], i)
		}
	}
	return nil
}

func checkStore(name string) error {
	if name == "" {
		return errors.New("store name is empty")
	}
	return checkName("store name", name, MaxStoreName)
}

// checkName applies the rules every name follows: at most max bytes of
// valid UTF-8 without control characters. Callers check emptiness.
func checkName(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes, the limit is %d", what, len(s), max)
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%s has control character 0x%02x at byte %d", what, c, i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("%s is not valid UTF-8 at byte %d", what, i)
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%s has control character %U at byte %d", what, r, i)
		}
		i += n
	}
	return nil
}

// CheckStoreName returns an error naming what is wrong when name cannot be
// a store name: empty, longer than MaxStoreName bytes, not UTF-8, or with a
// control character.
func CheckStoreName(name string) error { return checkStore(name) }

// CheckTxID returns an error naming what is wrong when id cannot be a
// transaction id: empty, longer than MaxTxIDSize, or not visible ASCII.
func CheckTxID(id string) error { return checkTxID(id) }

// CheckIndex returns an error naming what is wrong with an index
// specification (see Validate).
func CheckIndex(index []IndexField) error { return checkIndex(index) }
