package sop

import "errors"

// Errors returned by sop. Test them with errors.Is; the wrapping error names
// the domain, store or key concerned and what to do.
var (
	// Opening and closing.

	// ErrBadOptions: Open was given options it cannot use.
	ErrBadOptions = errors.New("sop: bad options")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("sop: closed")

	// Names and input.

	// ErrBadName: a domain or store name breaks the naming rules.
	ErrBadName = errors.New("sop: bad name")
	// ErrBadKey: a key is empty or longer than MaxKeySize.
	ErrBadKey = errors.New("sop: bad key")
	// ErrBadIndex: an index specification, or a document or key under it,
	// is invalid.
	ErrBadIndex = errors.New("sop: bad index")
	// ErrBadTxn: a Txn request is malformed (a compare that sets more or
	// less than one condition, a delete with a value, a bad tx id).
	ErrBadTxn = errors.New("sop: bad transaction")
	// ErrTooLarge: a value or a whole transaction exceeds its limit.
	ErrTooLarge = errors.New("sop: too large")

	// Catalog.

	// ErrDomainNotFound: no domain of that name.
	ErrDomainNotFound = errors.New("sop: domain not found")
	// ErrStoreNotFound: no store of that name in the domain.
	ErrStoreNotFound = errors.New("sop: store not found")
	// ErrStoreExists: a store of that name exists with another definition.
	ErrStoreExists = errors.New("sop: store exists with another definition")

	// Transactions.

	// ErrConflict: something the transaction read was written after it
	// began (or its read version is older than the leader's conflict
	// history). Update retries it; a retry sees the newer state.
	ErrConflict = errors.New("sop: transaction conflict")
	// ErrReadOnly: a write in a View transaction.
	ErrReadOnly = errors.New("sop: write in a read-only transaction")
	// ErrTxDone: the transaction was used after its function returned.
	ErrTxDone = errors.New("sop: transaction is done")
	// ErrUnavailable: the journal could not be reached. For a commit the
	// outcome is unknown: read back before retrying, or retry with the same
	// transaction id so the journal drops a duplicate.
	ErrUnavailable = errors.New("sop: journal unavailable")
	// ErrAlreadyCommitted: a commit's transaction id was committed before
	// (a retry of a commit whose first attempt succeeded).
	ErrAlreadyCommitted = errors.New("sop: transaction id already committed")
	// ErrDomainFailed: the domain's projection hit an error it cannot go on
	// from (a page-file I/O error or corruption); reopen the DB.
	ErrDomainFailed = errors.New("sop: domain failed")
	// ErrStorageFailed: the node's data volume failed with a permanent I/O
	// error (vfs.IsPermanent). With Options.PassiveDir the node is
	// rebuilding its state there and serves again soon (retry); without,
	// it serves nothing until restarted on a working volume.
	ErrStorageFailed = errors.New("sop: storage failed")
	// ErrNotLeader: a write on a node that follows the journal (Options.
	// Follower) and commits nothing itself; send it to the leader.
	ErrNotLeader = errors.New("sop: not the leader")
)
