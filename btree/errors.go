package btree

import (
	"errors"
	"fmt"
)

// Errors returned by the btree package. Callers test them with errors.Is.
var (
	// Input errors: the call was wrong, the state is unchanged.

	// ErrKeyTooLarge: the key is longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("btree: key too large")
	// ErrValueTooLarge: the value is longer than MaxValueSize.
	ErrValueTooLarge = errors.New("btree: value too large")
	// ErrTreeNotFound: no tree with that id exists in this version.
	ErrTreeNotFound = errors.New("btree: tree not found")
	// ErrTreeExists: CreateTree named an id that is already in use.
	ErrTreeExists = errors.New("btree: tree already exists")
	// ErrUnsorted: Load was given keys that are not strictly increasing.
	ErrUnsorted = errors.New("btree: bulk load input not strictly increasing")
	// ErrTreeNotEmpty: Load needs an empty tree.
	ErrTreeNotEmpty = errors.New("btree: tree is not empty")
	// ErrBadOptions: an option is out of range.
	ErrBadOptions = errors.New("btree: bad options")

	// Lifecycle errors.

	// ErrClosed: the forest, batch or reader was closed or released.
	ErrClosed = errors.New("btree: closed")
	// ErrBatchDone: the batch was already committed or aborted.
	ErrBatchDone = errors.New("btree: batch already committed or aborted")
	// ErrBadCheckpoint: a checkpoint does not fit this page file (wrong page
	// size, or it names pages beyond the file's end).
	ErrBadCheckpoint = errors.New("btree: checkpoint does not match page file")

	// ErrCorrupt marks every corruption: bad checksum, bad magic, impossible
	// pointer or length. The concrete error is a *CorruptError naming the page.
	ErrCorrupt = errors.New("btree: corrupt")
)

// CorruptError describes a corrupt page. errors.Is(err, ErrCorrupt) holds.
type CorruptError struct {
	Page   PageID
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("btree: corrupt page %d: %s", e.Page, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true for every CorruptError.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
