package check

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DivergedError says which nodes hold which state when they differ. It
// matches ErrDiverged with errors.Is.
type DivergedError struct {
	// States maps each distinct "seq:hexhash" (hash in lower case) to its
	// nodes, sorted.
	States map[string][]string
	// SameSeq is true when every node is at the same seq: the states
	// differ, not merely how far the nodes got.
	SameSeq bool
}

func (e *DivergedError) Error() string {
	states := make([]string, 0, len(e.States))
	for s := range e.States {
		states = append(states, s)
	}
	sort.Strings(states)
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%s at %s", strings.Join(e.States[s], ","), s)
	}
	why := "nodes at different seqs"
	if e.SameSeq {
		why = "same seq, different state hashes"
	}
	return fmt.Sprintf("%v (%s): %s", ErrDiverged, why, strings.Join(parts, "; "))
}

func (e *DivergedError) Unwrap() error { return ErrDiverged }

// Converged checks that every node holds the same state at the end of a
// run. hashes maps a node to its "seq:hexhash" (the applied seq and the
// state hash there, hexadecimal in either case). It returns nil if all are
// equal, a *DivergedError (ErrDiverged) if not, ErrNoHashes for an empty
// map and ErrMalformedHash for a value not of that form.
func Converged(hashes map[string]string) error {
	if len(hashes) == 0 {
		return ErrNoHashes
	}
	states := map[string][]string{}
	seqs := map[uint64]bool{}
	for node, h := range hashes {
		seq, hash, err := parseStateHash(h)
		if err != nil {
			return fmt.Errorf("node %q: %w", node, err)
		}
		s := fmt.Sprintf("%d:%s", seq, hash)
		states[s] = append(states[s], node)
		seqs[seq] = true
	}
	if len(states) == 1 {
		return nil
	}
	for _, nodes := range states {
		sort.Strings(nodes)
	}
	return &DivergedError{States: states, SameSeq: len(seqs) == 1}
}

// parseStateHash splits "seq:hexhash" and lower-cases the hash.
func parseStateHash(h string) (uint64, string, error) {
	seqText, hash, ok := strings.Cut(h, ":")
	if !ok || hash == "" {
		return 0, "", fmt.Errorf("%w: %q is not seq:hexhash", ErrMalformedHash, h)
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %q: seq: %v", ErrMalformedHash, h, err)
	}
	hash = strings.ToLower(hash)
	if _, err := hex.DecodeString(hash); err != nil {
		return 0, "", fmt.Errorf("%w: %q: hash: %v", ErrMalformedHash, h, err)
	}
	return seq, hash, nil
}
