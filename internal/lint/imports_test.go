// Package lint holds tests that keep the code base's structure honest.
package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// confined lists heavy external clients and the only folders (relative to
// the module root, with their subfolders) that may import them: each lives
// in one subpackage and nowhere else (STYLE.md, "Layout"). testsOnly
// allows only those folders' _test.go files.
var confined = []struct {
	importPrefix string
	allowed      []string
	testsOnly    bool
}{
	{"github.com/nats-io/", []string{"journal", "snapshot/objstore"}, false},
	{"github.com/redis/go-redis", []string{"lock/redislock"}, false},
	{"github.com/apache/cassandra-gocql-driver", []string{"snapshot/cassandra"}, false},
	{"github.com/gocql/gocql", []string{"snapshot/cassandra"}, false},
	{"github.com/cockroachdb/pebble", []string{"checkpoint"}, false},
	{"github.com/vmihailenco/msgpack", []string{"journal"}, false},
	{"github.com/spf13/", []string{"cmd/sopd"}, false},
	{"github.com/prometheus/", []string{"httpapi", "cmd/sopd"}, false},
	// The linearizability checker of the fault suite.
	{"github.com/anishathalye/porcupine", []string{"faults"}, false},
	// The browser tests of the Web UI drive headless Chromium.
	{"github.com/chromedp/", []string{"ui"}, true},
}

// TestImportsConfined fails when a package imports a confined client
// outside its home. bench/ is its own module and is not checked.
func TestImportsConfined(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			checkImport(t, filepath.ToSlash(filepath.Dir(rel)), p, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkImport(t *testing.T, dir, imp, file string) {
	for _, c := range confined {
		if !strings.HasPrefix(imp, c.importPrefix) {
			continue
		}
		ok := false
		for _, a := range c.allowed {
			ok = ok || dir == a || strings.HasPrefix(dir, a+"/")
		}
		if c.testsOnly && !strings.HasSuffix(file, "_test.go") {
			ok = false
		}
		if !ok && c.testsOnly {
			t.Errorf("%s imports %s; only the tests (_test.go) of %v may", file, imp, c.allowed)
		} else if !ok {
			t.Errorf("%s imports %s; only %v may", file, imp, c.allowed)
		}
	}
}
