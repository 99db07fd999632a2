package httpapi

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/sopd/sop"
	"github.com/sopd/sop/index"
)

// nameJSON names a domain.
type nameJSON struct {
	Name string `json:"name"`
}

// listDomains answers GET /v1/domains.
func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	out := struct {
		Domains []nameJSON `json:"domains"`
	}{Domains: []nameJSON{}}
	for _, name := range s.db.Domains() {
		out.Domains = append(out.Domains, nameJSON{Name: name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createDomain answers PUT /v1/domains/{d}: 201 when new, 200 when it
// existed.
func (s *Server) createDomain(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	name := r.PathValue("d")
	defer s.metrics.timeCommit()()
	created, err := s.db.CreateDomain(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, createdStatus(created), nameJSON{Name: name})
	return nil
}

// createdStatus is 201 for something new, 200 for something that was
// there.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// fieldJSON is one field of an index specification.
type fieldJSON struct {
	Field string `json:"field"`
	Order string `json:"order,omitempty"` // "asc" (default) or "desc"
}

// storeBody is the optional body of PUT .../stores/{s}.
type storeBody struct {
	Index []fieldJSON `json:"index"`
}

// storeJSON describes a store.
type storeJSON struct {
	Name  string      `json:"name"`
	Index []fieldJSON `json:"index"` // null for a plain store
	Count *uint64     `json:"count,omitempty"`
}

// parseSpec turns the JSON specification into an index.Spec; nil means a
// plain store.
func parseSpec(fields []fieldJSON) (index.Spec, error) {
	if fields == nil {
		return nil, nil
	}
	if len(fields) == 0 {
		return nil, reject(sop.ErrBadIndex, "\"index\" is empty: give 1 to %d fields, or leave it out for a plain store", index.MaxFields)
	}
	spec := make(index.Spec, len(fields))
	for i, f := range fields {
		spec[i].Name = f.Field
		switch f.Order {
		case "", "asc":
		case "desc":
			spec[i].Desc = true
		default:
			return nil, reject(sop.ErrBadIndex, "index field %d (%q): order %q: use \"asc\" or \"desc\"", i, f.Field, f.Order)
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, reject(sop.ErrBadIndex, "%v", err)
	}
	return spec, nil
}

// specJSON renders a specification; nil for a plain store.
func specJSON(spec index.Spec) []fieldJSON {
	if len(spec) == 0 {
		return nil
	}
	out := make([]fieldJSON, len(spec))
	for i, f := range spec {
		out[i] = fieldJSON{Field: f.Name, Order: "asc"}
		if f.Desc {
			out[i].Order = "desc"
		}
	}
	return out
}

// createStore answers PUT /v1/domains/{d}/stores/{s}: 201 when new, 200
// when it existed with the same specification, 409 store_exists with
// another.
func (s *Server) createStore(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	domain, name := r.PathValue("d"), r.PathValue("s")
	body, err := readBody(w, r, s.opts.MaxBodySize)
	if err != nil {
		return err
	}
	var def storeBody
	if len(body) > 0 {
		if err := decodeJSON(body, &def); err != nil {
			return err
		}
	}
	spec, err := parseSpec(def.Index)
	if err != nil {
		return err
	}
	defer s.metrics.timeCommit()()
	created, err := s.db.CreateStore(r.Context(), domain, name, spec)
	if errors.Is(err, sop.ErrStoreExists) {
		return s.storeExists(domain, name, err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, createdStatus(created), storeJSON{Name: name, Index: specJSON(spec)})
	return nil
}

// storeExists words the 409 of a store created again with another
// definition in the API's terms.
func (s *Server) storeExists(domain, name string, err error) error {
	specs, serr := s.specs(domain)
	if serr != nil {
		return err
	}
	spec, ok := specs.specs[name]
	if !ok {
		return err
	}
	have := "no index (a plain store)"
	if len(spec) > 0 {
		b, _ := json.Marshal(specJSON(spec))
		have = "the index " + string(b)
	}
	return reject(sop.ErrStoreExists, "store %q exists with %s: use that definition, drop the store first, or use another name", name, have)
}

// dropStore answers DELETE /v1/domains/{d}/stores/{s}.
func (s *Server) dropStore(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	defer s.metrics.timeCommit()()
	seq, err := s.db.DropStore(r.Context(), r.PathValue("d"), r.PathValue("s"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writeAnswer{Seq: seq})
	return nil
}

// listStores answers GET /v1/domains/{d}/stores, as of the node's applied
// seq (also answered).
func (s *Server) listStores(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	infos, seq, err := s.db.Stores(r.PathValue("d"))
	if err != nil {
		return err
	}
	out := struct {
		Stores []storeJSON `json:"stores"`
		Seq    uint64      `json:"seq"`
	}{Stores: []storeJSON{}, Seq: seq}
	for _, info := range infos {
		count := info.Count
		out.Stores = append(out.Stores, storeJSON{Name: info.Name, Index: specJSON(info.Index), Count: &count})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// hash answers GET /v1/domains/{d}/hash.
func (s *Server) hash(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	seq, sum, err := s.db.Hash(r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Seq  uint64 `json:"seq"`
		Hash string `json:"hash"`
	}{seq, hex.EncodeToString(sum)})
	return nil
}

// domainStatusJSON is one domain in /v1/status.
type domainStatusJSON struct {
	Name            string `json:"name"`
	Role            string `json:"role"`
	AppliedSeq      uint64 `json:"applied_seq"`
	JournalFirstSeq uint64 `json:"journal_first_seq"`
	JournalLastSeq  uint64 `json:"journal_last_seq"`
	SnapshotSeq     uint64 `json:"snapshot_seq"`
	Error           string `json:"error,omitempty"` // why the domain failed
	// Replay is the progress of a journal replay running now (a rebuild).
	Replay *replayJSON `json:"replay,omitempty"`
}

// replayJSON is a replay's progress in /v1/status.
type replayJSON struct {
	AppliedSeq uint64  `json:"applied_seq"`
	TargetSeq  uint64  `json:"target_seq"`
	Entries    uint64  `json:"entries"`
	Rate       float64 `json:"rate"`
	ETASeconds float64 `json:"eta_seconds"`
}

// status answers GET /v1/status.
func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	st, err := s.db.Status(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Node         string             `json:"node"`
		Version      string             `json:"version"`
		DataDir      string             `json:"data_dir"`
		Failovers    uint64             `json:"failovers"`
		StorageError string             `json:"storage_error,omitempty"`
		Domains      []domainStatusJSON `json:"domains"`
		Members      []sop.Member       `json:"members"`
	}{Node: s.db.Node(), Version: s.opts.Version, DataDir: s.db.DataDir(), Failovers: s.db.Failovers(),
		Domains: []domainStatusJSON{}, Members: s.db.Members()}
	if err := s.db.Ready(); err != nil {
		out.StorageError = err.Error()
	}
	for _, d := range st {
		ds := domainStatusJSON{
			Name: d.Name, Role: string(d.Role), AppliedSeq: d.Applied,
			JournalFirstSeq: d.JournalFirst, JournalLastSeq: d.JournalLast, SnapshotSeq: d.SnapshotSeq,
		}
		if d.Err != nil {
			ds.Error = d.Err.Error()
		}
		if p := d.Replay; p != nil {
			ds.Replay = &replayJSON{AppliedSeq: p.Applied, TargetSeq: p.Target, Entries: p.Entries,
				Rate: math.Round(p.Rate()), ETASeconds: math.Round(p.ETA().Seconds())}
		}
		out.Domains = append(out.Domains, ds)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rebuild answers POST /v1/domains/{d}/rebuild: the node wipes its local
// state of the domain and builds it again from the newest snapshot and the
// journal (GET /v1/status shows the progress meanwhile); it answers the
// seq the rebuilt domain has applied.
func (s *Server) rebuild(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	seq, err := s.db.Rebuild(r.Context(), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Seq uint64 `json:"seq"`
	}{seq})
	return nil
}
