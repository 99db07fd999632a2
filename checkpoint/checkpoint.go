// Package checkpoint keeps a node's checkpoints in Pebble: for each domain,
// how far its projection got (the applied seq), the B-tree checkpoint that
// names the page-file state of exactly that seq, and the store catalog. A
// checkpoint is saved with one synced Pebble batch after the page file was
// fsynced, so it is atomic with the pages it names; after a crash the node
// opens the last checkpoint and replays the journal from applied seq + 1.
//
// # Keys
//
// All keys are ASCII; values are as below.
//
//	node/id                      the node's id (set once, on first start)
//	domain/<name>/applied        8 bytes big-endian: the applied seq
//	domain/<name>/forest         btree.Checkpoint.MarshalBinary
//	domain/<name>/catalog        projector.Catalog.MarshalBinary
//	domain/<name>/incarnation    the domain's incarnation id (text)
//
// The four domain keys are written together in one batch. A domain with an
// incarnation but no applied key has been created and never checkpointed.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Errors.
var (
	// ErrBadRecord marks a stored value that does not decode: the Pebble
	// database holds something this package did not write.
	ErrBadRecord = errors.New("checkpoint: bad record")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("checkpoint: store closed")
)

// Domain is one domain's checkpoint.
type Domain struct {
	// Applied is the seq of the last journal entry the checkpoint
	// includes. Invariant: Applied <= the journal's last seq.
	Applied     uint64
	Forest      []byte // encoded btree.Checkpoint
	Catalog     []byte // encoded projector.Catalog
	Incarnation string // set when the domain was created; never changes
}

// Store is a node's checkpoint database. It is safe for concurrent use.
type Store struct {
	db *pebble.DB
}

// Options configure a Store.
type Options struct {
	// Logger receives Pebble's messages (info at debug level). Nil: discard.
	Logger *slog.Logger
}

// Open opens or creates the checkpoint database in dir.
func Open(dir string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return nil, fmt.Errorf("open checkpoint database %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.db == nil {
		return ErrClosed
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func domainKey(name, field string) []byte {
	return []byte("domain/" + name + "/" + field)
}

// Save writes d as domain name's checkpoint with one synced batch.
func (s *Store) Save(name string, d Domain) error {
	if s.db == nil {
		return ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	var applied [8]byte
	binary.BigEndian.PutUint64(applied[:], d.Applied)
	for _, kv := range []struct {
		field string
		value []byte
	}{
		{"applied", applied[:]},
		{"forest", d.Forest},
		{"catalog", d.Catalog},
		{"incarnation", []byte(d.Incarnation)},
	} {
		if err := b.Set(domainKey(name, kv.field), kv.value, nil); err != nil {
			return fmt.Errorf("save checkpoint of domain %s: %w", name, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("save checkpoint of domain %s: %w", name, err)
	}
	return nil
}

// Create records a new domain with its incarnation and no checkpoint yet.
func (s *Store) Create(name, incarnation string) error {
	if s.db == nil {
		return ErrClosed
	}
	if err := s.db.Set(domainKey(name, "incarnation"), []byte(incarnation), pebble.Sync); err != nil {
		return fmt.Errorf("record domain %s: %w", name, err)
	}
	return nil
}

// Load returns domain name's checkpoint, and whether the domain is known.
// A known domain without a checkpoint has Applied 0 and nil Forest and
// Catalog.
func (s *Store) Load(name string) (Domain, bool, error) {
	inc, ok, err := s.get(domainKey(name, "incarnation"))
	if err != nil || !ok {
		return Domain{}, false, err
	}
	d := Domain{Incarnation: string(inc)}
	applied, ok, err := s.get(domainKey(name, "applied"))
	if err != nil || !ok {
		return d, true, err
	}
	if len(applied) != 8 {
		return Domain{}, false, fmt.Errorf("%w: domain %s: applied seq of %d bytes", ErrBadRecord, name, len(applied))
	}
	d.Applied = binary.BigEndian.Uint64(applied)
	if d.Forest, _, err = s.get(domainKey(name, "forest")); err != nil {
		return Domain{}, false, err
	}
	if d.Catalog, _, err = s.get(domainKey(name, "catalog")); err != nil {
		return Domain{}, false, err
	}
	return d, true, nil
}

// Delete forgets domain name.
func (s *Store) Delete(name string) error {
	if s.db == nil {
		return ErrClosed
	}
	prefix := domainKey(name, "")
	if err := s.db.DeleteRange(prefix, prefixEnd(prefix), pebble.Sync); err != nil {
		return fmt.Errorf("delete checkpoint of domain %s: %w", name, err)
	}
	return nil
}

// Domains lists the known domains in name order.
func (s *Store) Domains() ([]string, error) {
	if s.db == nil {
		return nil, ErrClosed
	}
	prefix := []byte("domain/")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	var names []string
	for ok := it.First(); ok; ok = it.Next() {
		rest := string(it.Key()[len(prefix):])
		name, field, ok := strings.Cut(rest, "/")
		if ok && field == "incarnation" {
			names = append(names, name)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return names, nil
}

// NodeID returns the stored node id, or "" when none was set.
func (s *Store) NodeID() (string, error) {
	v, _, err := s.get([]byte("node/id"))
	return string(v), err
}

// SetNodeID stores the node id.
func (s *Store) SetNodeID(id string) error {
	if s.db == nil {
		return ErrClosed
	}
	if err := s.db.Set([]byte("node/id"), []byte(id), pebble.Sync); err != nil {
		return fmt.Errorf("store node id: %w", err)
	}
	return nil
}

// get returns a copy of key's value.
func (s *Store) get(key []byte) ([]byte, bool, error) {
	if s.db == nil {
		return nil, false, ErrClosed
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", key, err)
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

// prefixEnd is the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pebbleLogger sends Pebble's log lines to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is called by Pebble on a broken invariant it cannot continue
// from; it must not return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
