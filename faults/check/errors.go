package check

import "errors"

// Errors returned for bad input. A violation of a checked property is not an
// error: it is reported in the checker's result, except for Converged,
// whose only answer is an error.
var (
	// ErrInvalidOp: an operation handed to Linearizable has an unknown kind
	// or outcome, a negative client, or (unless its outcome is Unknown) a
	// return before its call.
	ErrInvalidOp = errors.New("check: invalid operation")
)

// Errors returned by Converged.
var (
	// ErrNoHashes: Converged was given no node at all.
	ErrNoHashes = errors.New("check: no state hashes to compare")
	// ErrMalformedHash: a node's hash is not "seq:hexhash".
	ErrMalformedHash = errors.New("check: malformed state hash")
	// ErrDiverged: the nodes do not all hold the same seq and hash; the
	// error is a *DivergedError.
	ErrDiverged = errors.New("check: nodes diverged")
)
