package checkpoint_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/sopd/sop/checkpoint"
)

func TestSaveLoadReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := checkpoint.Open(dir, checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load("a"); ok || err != nil {
		t.Fatalf("load of an unknown domain: ok %v err %v", ok, err)
	}
	if err := s.Create("a", "inc-a"); err != nil {
		t.Fatal(err)
	}
	d, ok, err := s.Load("a")
	if err != nil || !ok || d.Incarnation != "inc-a" || d.Applied != 0 || d.Forest != nil {
		t.Fatalf("created domain loads as %+v ok %v err %v", d, ok, err)
	}
	want := checkpoint.Domain{Applied: 42, Forest: []byte("forest"), Catalog: []byte("catalog"), Incarnation: "inc-a"}
	if err := s.Save("a", want); err != nil {
		t.Fatal(err)
	}
	if err := s.Create("b", "inc-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeID("n1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("a", want); !errors.Is(err, checkpoint.ErrClosed) {
		t.Fatalf("save after close: %v, want ErrClosed", err)
	}

	s, err = checkpoint.Open(dir, checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Load("a")
	if err != nil || !ok || got.Applied != want.Applied || string(got.Forest) != "forest" || string(got.Catalog) != "catalog" || got.Incarnation != "inc-a" {
		t.Fatalf("after reopen: %+v ok %v err %v, want %+v", got, ok, err, want)
	}
	names, err := s.Domains()
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("domains %v err %v, want [a b]", names, err)
	}
	if id, err := s.NodeID(); id != "n1" || err != nil {
		t.Fatalf("node id %q err %v", id, err)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load("a"); ok {
		t.Fatal("deleted domain still loads")
	}
	if names, _ := s.Domains(); !slices.Equal(names, []string{"b"}) {
		t.Fatalf("domains after delete %v, want [b]", names)
	}
}
