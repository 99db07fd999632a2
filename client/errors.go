package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Errors that errors.Is matches against a *Error (by its code, or by its
// HTTP status when the code is not one the client knows). Input the client
// rejects before sending wraps ErrBadRequest.
var (
	// ErrBadRequest: the server (or the client) rejected the input: bad
	// JSON, a bad name, key, value, parameter or index (HTTP 400).
	ErrBadRequest = errors.New("client: bad request")
	// ErrUnauthorized: no token, or an unknown one (HTTP 401).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrForbidden: the token may not do this (HTTP 403).
	ErrForbidden = errors.New("client: forbidden")
	// ErrNotFound: the domain, store or item does not exist (HTTP 404).
	ErrNotFound = errors.New("client: not found")
	// ErrConflict: a transaction conflicted with a concurrent one (HTTP 409,
	// code "conflict"); retrying sees the newer state.
	ErrConflict = errors.New("client: conflict")
	// ErrConditionFailed: an if_version or if_absent condition did not
	// hold (HTTP 409, code "condition_failed").
	ErrConditionFailed = errors.New("client: condition failed")
	// ErrStoreExists: a store exists with another index specification
	// (HTTP 409, code "store_exists").
	ErrStoreExists = errors.New("client: store exists with another definition")
	// ErrCompacted: the position asked for was purged (HTTP 410); the
	// *Error's FirstSeq is the first seq that can be asked for.
	ErrCompacted = errors.New("client: position compacted")
	// ErrTooLarge: a key, value or body exceeds the server's limit (HTTP 413).
	ErrTooLarge = errors.New("client: too large")
	// ErrUnavailable: the node is not ready, has no leader, or its journal
	// cannot be reached (HTTP 502, 503, 504); the *Error's RetryAfter says
	// when to try again. A write's outcome is then unknown.
	ErrUnavailable = errors.New("client: unavailable")
	// ErrNotImplemented: the server does not offer this call yet (HTTP 501).
	ErrNotImplemented = errors.New("client: not implemented")
	// ErrClosed: the Watcher was closed.
	ErrClosed = errors.New("client: watcher closed")
)

// Error is a refusal from the server: an HTTP error answer, or an error
// event that ended a change stream.
type Error struct {
	StatusCode int    // HTTP status; 0 for an error event in a change stream
	Code       string // the API's error code, e.g. "key_not_found"
	Message    string // what happened and what to do
	// FirstSeq is, with ErrCompacted, the first seq still retained.
	FirstSeq uint64
	// ResumeFrom is, for a change stream cut off because it read too
	// slowly, the seq to watch again from.
	ResumeFrom uint64
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = "error"
	}
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s: %s", code, e.Message)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", code, e.StatusCode, e.Message)
}

// codes maps the API's error codes to the sentinels.
var codes = map[string]error{
	"bad_json": ErrBadRequest, "bad_param": ErrBadRequest, "bad_key": ErrBadRequest,
	"bad_value": ErrBadRequest, "bad_index": ErrBadRequest, "bad_cursor": ErrBadRequest,
	"bad_name": ErrBadRequest, "bad_txn": ErrBadRequest, "key_mismatch": ErrBadRequest,
	"unauthorized": ErrUnauthorized, "forbidden": ErrForbidden,
	"not_found": ErrNotFound, "domain_not_found": ErrNotFound,
	"store_not_found": ErrNotFound, "key_not_found": ErrNotFound,
	"conflict": ErrConflict, "condition_failed": ErrConditionFailed,
	"store_exists": ErrStoreExists, "compacted": ErrCompacted,
	"too_large": ErrTooLarge, "unavailable": ErrUnavailable, "not_ready": ErrUnavailable,
	"not_implemented": ErrNotImplemented,
}

// statuses maps HTTP statuses to the sentinels, for codes the client does
// not know.
var statuses = map[int]error{
	http.StatusBadRequest: ErrBadRequest, http.StatusUnauthorized: ErrUnauthorized,
	http.StatusForbidden: ErrForbidden, http.StatusNotFound: ErrNotFound,
	http.StatusGone: ErrCompacted, http.StatusRequestEntityTooLarge: ErrTooLarge,
	http.StatusBadGateway: ErrUnavailable, http.StatusServiceUnavailable: ErrUnavailable,
	http.StatusGatewayTimeout: ErrUnavailable, http.StatusNotImplemented: ErrNotImplemented,
}

// Is makes errors.Is(err, ErrNotFound) and the like true.
func (e *Error) Is(target error) bool {
	if s, ok := codes[e.Code]; ok {
		return s == target
	}
	return statuses[e.StatusCode] == target
}

// transient reports whether a failed connection attempt is worth trying
// again: the node is not ready, or something between us and it failed.
func (e *Error) transient() bool {
	switch {
	case e.Code == "unavailable" || e.Code == "not_ready":
		return true
	case e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout:
		return true
	case e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented && e.Code == "":
		return true // a proxy's answer, not the API's
	}
	return false
}
