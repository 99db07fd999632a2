package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// readBody reads the whole request body, at most limit bytes; a longer
// one is an *http.MaxBytesError (413).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, err
	}
	if err != nil {
		return nil, reject(errBadJSON, "reading the body failed: %v", err)
	}
	return b, nil
}

// readJSON reads a request whose only input is its JSON body (no query
// parameters) into v.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	body, err := readBody(w, r, s.opts.MaxBodySize)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes body, one JSON value of v's shape with no unknown
// members, into v.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return reject(errBadJSON, "the body does not parse: %s", jsonProblem(err))
	}
	if dec.More() {
		return reject(errBadJSON, "the body has more than one JSON value: send one")
	}
	if _, err := dec.Token(); err != io.EOF {
		return reject(errBadJSON, "the body has data after its JSON value: send one value")
	}
	return nil
}

// jsonProblem says what is wrong in a JSON decoding error, naming the
// member and the byte offset where the decoder knows them.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty: send a JSON value"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends inside its JSON value"
	case errors.As(err, &syntax):
		return fmt.Sprintf("%s at byte %d", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("member %q is a JSON %s, want a %s", typ.Field, typ.Value, typeName(typ.Type.Kind().String()))
	case errors.As(err, &typ):
		return fmt.Sprintf("the body is a JSON %s, want a %s", typ.Value, typeName(typ.Type.Kind().String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// typeName names a Go kind in JSON's terms.
func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number (" + kind + ")"
	case kind == "struct", kind == "map":
		return "object"
	case kind == "slice", kind == "array":
		return "array"
	case kind == "bool":
		return "boolean"
	}
	return kind
}

// params are a request's query parameters, checked against the names the
// route takes so a misspelt one is an error rather than ignored.
type params struct {
	v url.Values
}

// queryParams parses the query and rejects names not in allowed, and
// names given twice.
func queryParams(r *http.Request, allowed ...string) (params, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return params{}, reject(errBadParam, "the query does not parse: %v", err)
	}
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return params{}, reject(errBadParam, "unknown query parameter %q: this call takes none", name)
			}
			return params{}, reject(errBadParam, "unknown query parameter %q: this call takes %s", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return params{}, reject(errBadParam, "query parameter %q is given %d times: give it once", name, len(vals))
		}
	}
	return params{v: v}, nil
}

// str returns the parameter and whether it was given.
func (p params) str(name string) (string, bool) {
	if !p.v.Has(name) {
		return "", false
	}
	return p.v.Get(name), true
}

// uint parses an unsigned integer parameter; def when absent.
func (p params) uint(name string, def uint64) (uint64, error) {
	s, ok := p.str(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, reject(errBadParam, "%s=%q is not an unsigned integer", name, s)
	}
	return n, nil
}

// bool parses a boolean parameter (true, false, 1, 0); false when absent.
func (p params) bool(name string) (bool, error) {
	s, ok := p.str(name)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, reject(errBadParam, "%s=%q is not true or false", name, s)
	}
	return b, nil
}

// duration parses a duration parameter ("500ms", "10s") in (0, max];
// def when absent.
func (p params) duration(name string, def, max time.Duration) (time.Duration, error) {
	s, ok := p.str(name)
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, reject(errBadParam, "%s=%q is not a positive duration such as 500ms or 10s", name, s)
	}
	if d > max {
		return 0, reject(errBadParam, "%s=%s is over the limit of %s", name, d, max)
	}
	return d, nil
}
