package httpapi

import (
	"net/http"
	"time"

	"github.com/sopd/sop/snapshot"
)

// snapshotJSON is one snapshot in an answer.
type snapshotJSON struct {
	ID      string    `json:"id"`
	Seq     uint64    `json:"seq"`
	Bytes   int64     `json:"bytes"`
	Created time.Time `json:"created"`
}

func snapshotOf(m snapshot.Meta) snapshotJSON {
	return snapshotJSON{ID: m.ID, Seq: m.Seq, Bytes: m.Bytes, Created: m.Created.UTC()}
}

// takeSnapshot answers POST /v1/domains/{d}/snapshots: a snapshot of the
// domain at this node's applied seq, then retention and journal
// truncation per the node's policy.
func (s *Server) takeSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	m, err := s.db.Snapshot(r.Context(), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, snapshotOf(m))
	return nil
}

// listSnapshots answers GET /v1/domains/{d}/snapshots, newest first.
func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	metas, err := s.db.Snapshots(r.Context(), r.PathValue("d"))
	if err != nil {
		return err
	}
	out := struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}{Snapshots: []snapshotJSON{}}
	for _, m := range metas {
		out.Snapshots = append(out.Snapshots, snapshotOf(m))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
