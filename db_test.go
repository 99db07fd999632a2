package sop_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
)

// openTest opens a DB in a temp dir (or dir when set) and checks its
// default domain's B-tree on cleanup.
func openTest(t testing.TB, dir string, tweak ...func(*sop.Options)) *sop.DB {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := sop.Options{Dir: dir}
	for _, f := range tweak {
		f(&opts)
	}
	db, err := sop.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		for _, d := range db.Domains() {
			if err := db.Check(d); err != nil && !errors.Is(err, sop.ErrClosed) {
				t.Errorf("check %s: %v", d, err)
			}
		}
		if err := db.Close(); err != nil && !errors.Is(err, sop.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func mustCreateStore(t testing.TB, db *sop.DB, domain, name string) {
	t.Helper()
	if _, err := db.CreateStore(context.Background(), domain, name, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPutGetReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sop.Open(ctx, sop.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateStore(t, db, "default", "s")
	var seqs []uint64
	for i := range 10 {
		seq, err := db.Update(ctx, "default", func(tx *sop.Tx) error {
			return tx.Put("s", fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%d", i))
		})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	_, want, err := db.Hash("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	_, got, err := db.Hash("default")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("hash after reopen %x, before %x", got, want)
	}
	err = db.View(ctx, "default", func(tx *sop.Tx) error {
		for i := range 10 {
			it, ok, err := tx.Get("s", fmt.Appendf(nil, "k%02d", i))
			if err != nil || !ok {
				return fmt.Errorf("get k%02d: %v %v", i, ok, err)
			}
			if string(it.Value) != fmt.Sprintf("v%d", i) || it.Version != seqs[i] {
				return fmt.Errorf("k%02d = %q@%d, want v%d@%d", i, it.Value, it.Version, i, seqs[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexStore(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, "")
	spec := index.Spec{{Name: "last"}, {Name: "age", Desc: true}}
	created, err := db.CreateStore(ctx, "default", "people", spec)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if created, err := db.CreateStore(ctx, "default", "people", spec); err != nil || created {
		t.Fatalf("create again with the same spec: created %v err %v, want false nil", created, err)
	}
	if _, err := db.CreateStore(ctx, "default", "people", index.Spec{{Name: "last"}}); !errors.Is(err, sop.ErrStoreExists) {
		t.Fatalf("create with another spec: %v, want ErrStoreExists", err)
	}
	docs := []string{
		`{"last":"b","age":30}`, `{"last":"a","age":20}`, `{"last":"a","age":40}`, `{"last":"c","age":1}`,
	}
	_, err = db.Update(ctx, "default", func(tx *sop.Tx) error {
		for _, d := range docs {
			if _, err := tx.PutDoc("people", []byte(d)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{docs[2], docs[1], docs[0], docs[3]} // last asc, then age desc
	var got []string
	prefix, err := spec.Prefix([]any{"a"})
	if err != nil {
		t.Fatal(err)
	}
	var underA int
	err = db.View(ctx, "default", func(tx *sop.Tx) error {
		for it, err := range tx.Scan("people", sop.Range{}) {
			if err != nil {
				return err
			}
			got = append(got, string(it.Value))
		}
		for _, err := range tx.Scan("people", sop.Prefix(prefix)) {
			if err != nil {
				return err
			}
			underA++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scan order %v, want %v", got, want)
	}
	if underA != 2 {
		t.Fatalf("%d items under prefix a, want 2", underA)
	}
	_, err = db.Update(ctx, "default", func(tx *sop.Tx) error { return tx.Put("people", []byte("raw"), []byte("{}")) })
	if !errors.Is(err, sop.ErrBadIndex) {
		t.Fatalf("put of a raw key into an index store: %v, want ErrBadIndex", err)
	}
	_, err = db.Update(ctx, "default", func(tx *sop.Tx) error { _, err := tx.PutDoc("people", []byte(`{"last":{"x":1}}`)); return err })
	if !errors.Is(err, sop.ErrBadIndex) {
		t.Fatalf("put of a doc with an object field: %v, want ErrBadIndex", err)
	}
}
