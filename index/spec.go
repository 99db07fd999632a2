package index

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a specification and of the keys it builds. They equal the
// journal's MaxIndexFields, MaxFieldName and MaxKeySize (and the B-tree's
// MaxKeySize); a test keeps them in step.
const (
	MaxFields    = 64      // fields in one specification
	MaxFieldName = 255     // bytes of one field name
	MaxKeySize   = 4 << 10 // bytes of one key or prefix
)

// Errors returned by the index package. Each is wrapped with a message
// naming what is wrong; callers test them with errors.Is.
var (
	// ErrBadSpec: the specification breaks a rule of Validate. Every method
	// of Spec validates its receiver first and returns this error.
	ErrBadSpec = errors.New("index: bad specification")

	// ErrBadDoc: a document or value list cannot be indexed: the document is
	// not valid JSON or not a JSON object, a field is an object or an array,
	// a number is NaN, infinite or out of float64 range, a value has an
	// unsupported Go type, the value count does not fit the specification,
	// or the key would be longer than MaxKeySize.
	ErrBadDoc = errors.New("index: bad document")

	// ErrBadKey: Decode was given bytes that KeyOf does not produce for this
	// specification: an unknown tag, a truncated body, a bad string escape, a
	// non-canonical number, trailing bytes or more than MaxKeySize bytes.
	ErrBadKey = errors.New("index: bad key")
)

// Field is one field of an index specification.
type Field struct {
	// Name is the field's path in the document: member names separated by
	// dots, "a.b.c" being member c of object b of object a.
	Name string
	// Desc orders the field descending.
	Desc bool
}

// Spec is an index specification: the fields that order a store's
// documents, most significant first. Its methods never modify it, so any
// number of goroutines may use one Spec at once; every slice they return is
// newly allocated and owned by the caller, except AppendKey's, which
// extends dst.
type Spec []Field

// Validate reports whether s is a usable specification: 1 to MaxFields
// fields with distinct names; each name 1 to MaxFieldName bytes of valid
// UTF-8 without control characters, and no empty path segment (no leading,
// trailing or doubled dot). The error wraps ErrBadSpec and names the first
// broken rule and the field.
func (s Spec) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("%w: no fields, a specification has 1 to %d", ErrBadSpec, MaxFields)
	}
	if len(s) > MaxFields {
		return fmt.Errorf("%w: %d fields, the limit is %d", ErrBadSpec, len(s), MaxFields)
	}
	for i, f := range s {
		if err := checkName(f.Name); err != nil {
			return fmt.Errorf("%w: field %d: %w", ErrBadSpec, i, err)
		}
		for _, g := range s[:i] {
			if g.Name == f.Name {
				return fmt.Errorf("%w: field %d: duplicate name %q", ErrBadSpec, i, f.Name)
			}
		}
	}
	return nil
}

// checkName applies the rules of one field name.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is empty")
	}
	if len(name) > MaxFieldName {
		return fmt.Errorf("name of %d bytes, the limit is %d", len(name), MaxFieldName)
	}
	if err := checkChars(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("name %q has an empty path segment", name)
	}
	return nil
}

// checkChars requires valid UTF-8 without control characters, the rule the
// journal applies to every name.
func checkChars(name string) error {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("name has control character 0x%02x at byte %d", c, i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("name is not valid UTF-8 at byte %d", i)
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("name has control character %U at byte %d", r, i)
		}
		i += n
	}
	return nil
}
