package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// settings binds one command's flags to environment variables and (for
// serve) a config file, with the precedence flag > environment > config
// file > default. Viper does the reading: flags are bound with BindPFlag,
// variables with BindEnv, the file is merged as its config. Every setting
// not given as a flag then takes viper's value through the flag's own
// parser, so a bad value is caught by the same rules wherever it came
// from, and its error names where it came from.
type settings struct {
	v     *viper.Viper
	flags *pflag.FlagSet
	env   map[string]string // flag name -> environment variable
	keys  []string          // bound flag names, in binding order
	file  string            // the config file read; "" when none
	// also are config file keys accepted and ignored: the serve settings
	// a command that reads serve's config file does not use.
	also map[string]bool
}

func newSettings(flags *pflag.FlagSet) *settings {
	v := viper.New()
	v.AllowEmptyEnv(true) // SOP_NATS_LISTEN= means "in process only", not unset
	return &settings{v: v, flags: flags, env: map[string]string{}}
}

// bind makes flag name (already defined) also settable by variable env,
// and by key name in the config file.
func (s *settings) bind(name, env string) {
	f := s.flags.Lookup(name)
	if f == nil {
		panic("settings: no flag " + name) // a wiring mistake, not input
	}
	s.v.BindPFlag(name, f)
	s.v.BindEnv(name, env)
	s.env[name] = env
	s.keys = append(s.keys, name)
}

// configExts are the config file formats, by extension.
var configExts = []string{".yaml", ".yml", ".toml", ".json"}

// readConfig reads the config file at path (YAML, TOML or JSON by its
// extension). Its keys are flag names without "--"; an unknown key is an
// error naming it.
func (s *settings) readConfig(path, source string) error {
	ext := strings.ToLower(filepath.Ext(path))
	if !slices.Contains(configExts, ext) {
		return fmt.Errorf("%s: config file %s: name it with one of the extensions %s so its format is known", source, path, strings.Join(configExts, ", "))
	}
	fv := viper.New()
	fv.SetConfigFile(path)
	if err := fv.ReadInConfig(); err != nil {
		var pe viper.ConfigParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s: config file %s does not parse as %s: %v", source, path, ext[1:], pe.Unwrap())
		}
		return fmt.Errorf("%s: read config file: %w", source, err)
	}
	var unknown []string
	for _, k := range fv.AllKeys() {
		if _, ok := s.env[k]; !ok && !s.also[k] || k == "config" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("config file %s: unknown keys %s: the keys are the flag names without \"--\" (see sopd serve --help), e.g. %s", path, strings.Join(unknown, ", "), s.keys[0])
	}
	if err := s.v.MergeConfigMap(fv.AllSettings()); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	s.file = path
	return nil
}

// apply gives every setting not set by its flag the value of its
// environment variable or config key, if either has one.
func (s *settings) apply() error {
	for _, name := range s.keys {
		f := s.flags.Lookup(name)
		if f.Changed || name == "config" {
			continue
		}
		src, ok := s.origin(name)
		if !ok {
			continue
		}
		str, err := scalar(s.v.Get(name))
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if err := f.Value.Set(str); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	return nil
}

// origin names where a setting not given as a flag comes from: its
// environment variable or the config file; false for its default.
func (s *settings) origin(name string) (string, bool) {
	env := s.env[name]
	if v, ok := os.LookupEnv(env); ok {
		return fmt.Sprintf("environment %s=%q (--%s)", env, v, name), true
	}
	if s.file != "" && s.v.InConfig(name) {
		return fmt.Sprintf("config file %s: key %s", s.file, name), true
	}
	return "", false
}

// source names where a setting's value came from, for error messages.
func (s *settings) source(name string) string {
	f := s.flags.Lookup(name)
	if f.Changed {
		return fmt.Sprintf("--%s %q", name, f.Value.String())
	}
	if src, ok := s.origin(name); ok {
		return src
	}
	return fmt.Sprintf("--%s (default %q)", name, f.DefValue)
}

// scalar turns a value read from the environment or a config file into
// the text a flag parses.
func scalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case time.Duration:
		return v.String(), nil
	case []any, map[string]any:
		return "", fmt.Errorf("is a %T, want a single value", v)
	}
	return fmt.Sprint(v), nil
}

// Flag value types. Each parses the command line, the environment and
// the config file alike, and its error says what to give instead.

// sizeValue is a byte count: "4096", or a number with KiB, MiB or GiB.
type sizeValue struct {
	p        *int64
	min, max int64
	zero     bool // 0 is allowed (it means "the default")
}

var sizeUnits = []struct {
	suffix string
	n      int64
}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"b", 1}}

func (v *sizeValue) Set(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("%q is not a size: give bytes, or a whole number with KiB, MiB or GiB (e.g. 64MiB)", s)
	}
	n *= mult
	if n == 0 && v.zero {
		*v.p = 0
		return nil
	}
	if n < v.min || v.max > 0 && n > v.max {
		return fmt.Errorf("%s is out of range: give %s to %s", formatSize(n), formatSize(v.min), formatSize(v.max))
	}
	*v.p = n
	return nil
}

func (v *sizeValue) String() string { return formatSize(*v.p) }
func (v *sizeValue) Type() string   { return "size" }

func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + strings.Replace(strings.ToUpper(u.suffix), "I", "i", 1)
		}
	}
	return strconv.FormatInt(n, 10)
}

// intValue is a whole number in [min, max].
type intValue struct {
	p        *int
	min, max int
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < v.min || n > v.max {
		return fmt.Errorf("%d is out of range: give %d to %d", n, v.min, v.max)
	}
	*v.p = n
	return nil
}

func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }

// seqValue is a journal seq or version: a whole number, 0 meaning none.
type seqValue struct{ p *uint64 }

func (v *seqValue) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a seq: give a whole number >= 0", s)
	}
	*v.p = n
	return nil
}

func (v *seqValue) String() string { return strconv.FormatUint(*v.p, 10) }
func (v *seqValue) Type() string   { return "seq" }

// durationValue is a positive duration such as 500ms, 5s or 1m.
type durationValue struct {
	p    *time.Duration
	zero bool // 0 is allowed (it means "none")
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 || d == 0 && !v.zero {
		return fmt.Errorf("%q is not a positive duration: give e.g. 500ms, 5s or 1m", s)
	}
	*v.p = d
	return nil
}

func (v *durationValue) String() string { return v.p.String() }
func (v *durationValue) Type() string   { return "duration" }

// choiceValue is one of a fixed set of words, in any case; it keeps the
// choice's own spelling.
type choiceValue struct {
	p       *string
	choices []string
	typ     string // the type --help shows; "": the choices
}

func (v *choiceValue) Set(s string) error {
	t := strings.TrimSpace(s)
	i := slices.IndexFunc(v.choices, func(c string) bool { return strings.EqualFold(c, t) })
	if i < 0 {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(v.choices, ", "))
	}
	*v.p = v.choices[i]
	return nil
}

func (v *choiceValue) String() string { return *v.p }
func (v *choiceValue) Type() string {
	if v.typ != "" {
		return v.typ
	}
	return strings.Join(v.choices, "|")
}

// triggerCount is a positive count, or "off" (or any negative number),
// stored as -1: sop.Options' "negative turns that trigger off".
type triggerCount struct{ p *int }

func (v *triggerCount) Set(s string) error {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		*v.p = -1
		return nil
	}
	n, err := strconv.Atoi(t)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a whole number: give a count such as 100000, or off", s)
	case n == 0:
		return fmt.Errorf("0 is ambiguous: give a count of at least 1, or off (or a negative number) to turn this trigger off")
	case n > 1<<40:
		return fmt.Errorf("%d is out of range: give 1 to %d, or off", n, 1<<40)
	}
	*v.p = max(n, -1)
	return nil
}

func (v *triggerCount) String() string {
	if *v.p < 0 {
		return "off"
	}
	return strconv.Itoa(*v.p)
}
func (v *triggerCount) Type() string { return "count|off" }

// triggerDuration is a positive duration, or "off" (or any negative
// duration), stored as -1ns.
type triggerDuration struct{ p *time.Duration }

func (v *triggerDuration) Set(s string) error {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		*v.p = -1
		return nil
	}
	d, err := time.ParseDuration(t)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a duration: give e.g. 30m or 1h, or off", s)
	case d == 0:
		return fmt.Errorf("0 is ambiguous: give a positive duration such as 1h, or off (or a negative duration) to turn this trigger off")
	}
	*v.p = max(d, -1)
	return nil
}

func (v *triggerDuration) String() string {
	if *v.p < 0 {
		return "off"
	}
	return v.p.String()
}
func (v *triggerDuration) Type() string { return "duration|off" }

// boolValue is true or false; the flag alone means true.
type boolValue struct{ p *bool }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}

func (v *boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v *boolValue) Type() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true }

// boolFlag defines a bool flag of type boolValue.
func boolFlag(fs *pflag.FlagSet, p *bool, name, usage string) {
	f := fs.VarPF(&boolValue{p}, name, "", usage)
	f.NoOptDefVal = "true"
}
