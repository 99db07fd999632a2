package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
	"github.com/sopd/sop/snapshot"
)

// Errors of the HTTP layer: request mistakes this package finds itself,
// grouped by phase. sop's own sentinels (sop.ErrBadKey, sop.ErrTooLarge,
// ...) are used where they mean the same thing. Each is wrapped with the
// message the client reads (see reject); errors.Is picks the answer's
// status and code (see answerFor).
var (
	// Routing and authentication.

	// errNotFound: no route has this path.
	errNotFound = errors.New("httpapi: not found")
	// errMethodNotAllowed: a route has this path, but not this method.
	errMethodNotAllowed = errors.New("httpapi: method not allowed")
	// errUnauthorized: authentication is on and the request carries no
	// token, or one that is not in the token file.
	errUnauthorized = errors.New("httpapi: unauthorized")
	// errForbidden: the token's role is too low for the route.
	errForbidden = errors.New("httpapi: forbidden")
	// errNotImplemented: the route is part of the API but not built yet.
	errNotImplemented = errors.New("httpapi: not implemented")

	// Reading the request.

	// errBadJSON: a body that is not JSON, not of the expected shape, or
	// with an unknown member.
	errBadJSON = errors.New("httpapi: bad json")
	// errBadParam: a query parameter or header that does not parse, is out
	// of range, is unknown, or conflicts with another.
	errBadParam = errors.New("httpapi: bad parameter")
	// errBadCursor: a scan cursor that is garbled or was issued for other
	// scan parameters.
	errBadCursor = errors.New("httpapi: bad cursor")
	// errKeyMismatch: an index-store document whose indexed fields do not
	// give the key it was written under.
	errKeyMismatch = errors.New("httpapi: key mismatch")

	// Answering.

	// errKeyNotFound: no item has the key.
	errKeyNotFound = errors.New("httpapi: key not found")
	// errConditionFailed: an if_version or if_absent condition did not
	// hold; nothing was written.
	errConditionFailed = errors.New("httpapi: condition failed")
	// errNotReady: the node did not apply the asked-for seq in time.
	errNotReady = errors.New("httpapi: not ready")
)

// reject returns an error wrapping kind whose text is msg: what the
// client reads.
func reject(kind error, format string, args ...any) error {
	return &requestError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// requestError is a mistake or condition found by this package: kind is
// one of the sentinels above (or sop's), msg is what the client reads.
type requestError struct {
	kind error
	msg  string
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.kind }

// answer is how an error goes back to the client.
type answer struct {
	status     int
	code       string
	retryAfter bool // 503s tell the client when to come back
}

// answers maps sentinels to answers, first match wins: the order matters
// where one error wraps several (an abandoned commit wraps both
// sop.ErrUnavailable and the context's error).
var answers = []struct {
	err error
	answer
}{
	{errNotFound, answer{http.StatusNotFound, "not_found", false}},
	{errMethodNotAllowed, answer{http.StatusMethodNotAllowed, "method_not_allowed", false}},
	{errUnauthorized, answer{http.StatusUnauthorized, "unauthorized", false}},
	{errForbidden, answer{http.StatusForbidden, "forbidden", false}},
	{errNotImplemented, answer{http.StatusNotImplemented, "not_implemented", false}},
	{errBadJSON, answer{http.StatusBadRequest, "bad_json", false}},
	{errBadParam, answer{http.StatusBadRequest, "bad_param", false}},
	{errBadCursor, answer{http.StatusBadRequest, "bad_cursor", false}},
	{errKeyMismatch, answer{http.StatusBadRequest, "key_mismatch", false}},
	{errKeyNotFound, answer{http.StatusNotFound, "key_not_found", false}},
	{errConditionFailed, answer{http.StatusConflict, "condition_failed", false}},
	{errNotReady, answer{http.StatusServiceUnavailable, "not_ready", true}},
	{sop.ErrStorageFailed, answer{http.StatusServiceUnavailable, "not_ready", true}},
	{sop.ErrUnavailable, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{sop.ErrClosed, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{sop.ErrDomainFailed, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{sop.ErrNotLeader, answer{http.StatusServiceUnavailable, "not_leader", true}},
	{snapshot.ErrNotFound, answer{http.StatusNotFound, "snapshot_not_found", false}},
	{snapshot.ErrUnavailable, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{sop.ErrNoSnapshot, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{sop.ErrTooLarge, answer{http.StatusRequestEntityTooLarge, "too_large", false}},
	{sop.ErrBadName, answer{http.StatusBadRequest, "bad_name", false}},
	{sop.ErrBadKey, answer{http.StatusBadRequest, "bad_key", false}},
	{sop.ErrBadTxn, answer{http.StatusBadRequest, "bad_txn", false}},
	{sop.ErrBadIndex, answer{http.StatusBadRequest, "bad_index", false}},
	{index.ErrBadSpec, answer{http.StatusBadRequest, "bad_index", false}},
	{sop.ErrDomainNotFound, answer{http.StatusNotFound, "domain_not_found", false}},
	{sop.ErrStoreNotFound, answer{http.StatusNotFound, "store_not_found", false}},
	{sop.ErrStoreExists, answer{http.StatusConflict, "store_exists", false}},
	{sop.ErrConflict, answer{http.StatusConflict, "conflict", false}},
	{sop.ErrCompacted, answer{http.StatusGone, "compacted", false}},
	// The client went away, or a wait it asked for ran out.
	{context.Canceled, answer{http.StatusServiceUnavailable, "unavailable", true}},
	{context.DeadlineExceeded, answer{http.StatusServiceUnavailable, "not_ready", true}},
}

// internal is the answer to an error no sentinel explains: a bug or an
// I/O failure, logged with the request.
var internal = answer{http.StatusInternalServerError, "internal", false}

// answerFor picks err's answer.
func answerFor(err error) answer {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return answer{http.StatusRequestEntityTooLarge, "too_large", false}
	}
	for _, a := range answers {
		if errors.Is(err, a.err) {
			return a.answer
		}
	}
	return internal
}

// errorBody is every error answer's JSON: a stable code and a message
// saying what happened and what to do.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// compactedBody is the 410 answer: it adds the first seq still available
// and the newest snapshot to restore from (null when there is none).
type compactedBody struct {
	errorBody
	FirstSeq uint64  `json:"first_seq"`
	Snapshot *string `json:"snapshot"`
}

// messageFor is the client's message for err.
func messageFor(err error, a answer) string {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Sprintf("the request body is over the limit of %d bytes: send less, or split the write", tooBig.Limit)
	case a == internal:
		return "internal error: the node logged it; retry, and report it if it persists"
	}
	return err.Error()
}

// writeError sends err as a JSON error answer, unless the answer has
// already begun (a stream), where it can only be logged.
func (s *Server) writeError(w *recorder, r *http.Request, err error) {
	a := answerFor(err)
	if a == internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", a.code, "err", err)
	}
	if w.status != 0 {
		return
	}
	if a.retryAfter {
		w.Header().Set("Retry-After", "1")
	}
	if a.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sop"`)
	}
	body := errorBody{Error: a.code, Message: messageFor(err, a)}
	var ce *sop.CompactedError
	if errors.As(err, &ce) {
		cb := compactedBody{errorBody: body, FirstSeq: ce.FirstSeq}
		if ce.Snapshot != "" {
			cb.Snapshot = &ce.Snapshot
		}
		writeJSON(w, a.status, cb)
		return
	}
	writeJSON(w, a.status, body)
}
