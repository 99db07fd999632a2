package check

import "fmt"

// Outcome is what a client knows about a request it sent. The zero value is
// not an outcome: a recorder that forgot to set one is a bug, and the
// checkers reject or report it rather than guess.
type Outcome int

const (
	// Ok: the request took effect and its answer is known.
	Ok Outcome = iota + 1
	// Failed: the request certainly did not take effect (refused before
	// anything was applied: a 4xx, a failed condition). Only use it when
	// the failure is certain; the checkers treat the request as never sent.
	Failed
	// Unknown: the request may or may not have taken effect (a timeout, a
	// reset connection, a 503 after the request was sent).
	Unknown
)

func (o Outcome) valid() bool { return o >= Ok && o <= Unknown }

func (o Outcome) String() string {
	switch o {
	case Ok:
		return "ok"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}
