package sop

import (
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Membership: in cluster mode (Options.Leases) every node announces itself
// on the subject sop.nodes.<cluster> every announceEvery: its id, the
// address it advertises (Options.Advertise) and its role in each domain.
// Each node keeps what it heard; a node not heard for memberTimeout is
// gone.

const (
	announceEvery = time.Second
	memberTimeout = 5 * announceEvery
)

// Member is a node of the cluster as last heard.
type Member struct {
	Node      string          `json:"node"`
	Advertise string          `json:"advertise,omitempty"` // its HTTP address, when it says
	Roles     map[string]Role `json:"roles"`               // domain -> role
	LastSeen  time.Time       `json:"last_seen"`
}

// members is what a node heard.
type members struct {
	mu   sync.Mutex
	seen map[string]Member // guarded by mu
}

func (m *members) heard(data []byte) {
	var a Member
	if json.Unmarshal(data, &a) != nil || a.Node == "" {
		return // not an announcement of ours
	}
	a.LastSeen = time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]Member{}
	}
	m.seen[a.Node] = a
}

// Members lists the cluster's nodes heard from in the last five seconds,
// this node included, by node id. Without cluster mode it is this node
// alone.
func (db *DB) Members() []Member {
	self := db.self()
	if db.opts.Leases == nil {
		return []Member{self}
	}
	db.members.mu.Lock()
	defer db.members.mu.Unlock()
	out := []Member{self}
	for id, m := range db.members.seen {
		if id != db.node && time.Since(m.LastSeen) < memberTimeout {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	return out
}

// self is this node's announcement.
func (db *DB) self() Member {
	m := Member{Node: db.node, Advertise: db.opts.Advertise, Roles: map[string]Role{}, LastSeen: time.Now()}
	db.mu.RLock()
	defer db.mu.RUnlock()
	for name, d := range db.domains {
		role := RoleFollower
		if l := d.cur.Load(); l != nil && l.leader {
			role = RoleLeader
		}
		m.Roles[name] = role
	}
	return m
}

// announce subscribes to the cluster's announcements and announces this
// node until the DB closes.
func (db *DB) announce() error {
	subject := "sop.nodes." + db.opts.ClusterName
	stop, err := db.conn.Subscribe(subject, db.members.heard)
	if err != nil {
		return err
	}
	db.announceDone = make(chan struct{})
	go func() {
		defer close(db.announceDone)
		defer stop()
		t := time.NewTicker(announceEvery)
		defer t.Stop()
		for {
			if b, err := json.Marshal(db.self()); err == nil {
				if err := db.conn.Publish(subject, b); err != nil {
					db.opts.Logger.Warn("announcing this node failed", "err", err)
				}
			}
			select {
			case <-db.closing:
				return
			case <-t.C:
			}
		}
	}()
	return nil
}
