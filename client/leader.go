package client

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Writes to the leader (Options.WriteToLeader): any node takes a write
// and forwards it to the domain's leader, which costs a hop and, on the
// node forwarding it, a wait until it has applied the commit. A client
// that knows the leader sends the write there itself. It learns each
// domain's leader from its endpoint's GET /v1/status (the members, their
// roles and --advertise URLs) at the first write and again every
// leaderRefresh in the background, so a new leader is found within about
// that time plus the members' announcement period (1 s); until then
// writes go to the old leader, which forwards them as any follower does.
//
// Reads still go to the endpoint. So that the client reads its own writes
// there, a Get or Scan without MinSeq or Linearizable waits (min_seq)
// until the endpoint has applied the client's last write of that domain.
//
// A write whose connection to the leader could not be made (the dial
// failed: nothing was sent) goes to the endpoint instead, and that leader
// URL is not used again for leaderBackoff. Any other failure is the
// write's answer, as without WriteToLeader: the write may have committed.

const (
	leaderRefresh = 2 * time.Second
	leaderBackoff = 10 * time.Second
	// learnTimeout bounds the status request that learns the leaders.
	learnTimeout = 5 * time.Second
)

// leaders is what a client learned of the domains' leaders, and the seq
// of its last write in each domain.
type leaders struct {
	self *Client

	mu       sync.Mutex
	byDomain map[string]*Client   // domain -> its leader's client (self when it leads)
	nodes    map[string]*Client   // advertised URL -> its client, reused
	down     map[string]time.Time // advertised URL -> until when it is not used
	learned  time.Time            // when byDomain was last learned (zero: never)
	learning bool                 // a learn runs
	written  map[string]uint64    // domain -> seq of the client's last write
}

// target is the client to send a write of domain to: the leader's when
// known, else the endpoint's. The first write learns the leaders; later
// ones refresh them in the background when they are older than
// leaderRefresh.
func (l *leaders) target(ctx context.Context, domain string) *Client {
	l.mu.Lock()
	switch {
	case l.learned.IsZero() && !l.learning:
		l.learning = true
		l.mu.Unlock()
		l.learn(ctx)
		l.mu.Lock()
	case time.Since(l.learned) > leaderRefresh && !l.learning:
		l.learning = true
		go l.learn(context.Background())
	}
	defer l.mu.Unlock()
	if c := l.byDomain[domain]; c != nil && time.Now().After(l.down[c.base]) {
		return c
	}
	return l.self
}

// learn asks the endpoint which node leads each domain.
func (l *leaders) learn(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, learnTimeout)
	defer cancel()
	st, err := l.self.Status(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.learning = false
	l.learned = time.Now()
	if err != nil {
		return // keep what was known; writes go there or to the endpoint
	}
	by := map[string]*Client{}
	seen := map[string]time.Time{}
	for _, m := range st.Members {
		for domain, role := range m.Roles {
			if role != "leader" || !m.LastSeen.After(seen[domain]) && by[domain] != nil {
				continue
			}
			if c := l.node(m, st.Node); c != nil {
				by[domain], seen[domain] = c, m.LastSeen
			}
		}
	}
	l.byDomain = by
}

// node is the client of member m (self for the endpoint's own node); nil
// when m advertises no usable URL.
func (l *leaders) node(m Member, self string) *Client {
	if m.Node == self {
		return l.self
	}
	u, err := url.Parse(m.Advertise)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil
	}
	base := strings.TrimSuffix(u.String(), "/")
	if base == l.self.base {
		return l.self
	}
	if c := l.nodes[base]; c != nil {
		return c
	}
	if l.nodes == nil {
		l.nodes = map[string]*Client{}
	}
	c := &Client{base: base, token: l.self.token, hc: l.self.hc}
	l.nodes[base] = c
	return c
}

// unreachable sets c aside for leaderBackoff and has the next write learn
// the leaders again.
func (l *leaders) unreachable(c *Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == nil {
		l.down = map[string]time.Time{}
	}
	l.down[c.base] = time.Now().Add(leaderBackoff)
	l.learned = time.Unix(1, 0) // stale, not zero: the next write refreshes in the background
}

// wrote records the seq of a write to domain.
func (l *leaders) wrote(domain string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written == nil {
		l.written = map[string]uint64{}
	}
	l.written[domain] = max(l.written[domain], seq)
}

// lastWrite is the seq of the client's last write to domain (0: none).
func (l *leaders) lastWrite(domain string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written[domain]
}

// write sends a write of domain: to its leader with WriteToLeader, else to
// the endpoint. seq reports the seq out holds after a success.
func (c *Client) write(ctx context.Context, domain string, r request, out any, seq func() uint64) error {
	if c.leaders == nil {
		_, err := c.call(ctx, r, out)
		return err
	}
	target := c.leaders.target(ctx, domain)
	_, err := target.call(ctx, r, out)
	if err != nil && target != c && notSent(err) {
		c.leaders.unreachable(target)
		_, err = c.call(ctx, r, out)
	}
	if err == nil {
		c.leaders.wrote(domain, seq())
	}
	return err
}

// readSeq is the min_seq a read of domain waits for: the caller's, or with
// WriteToLeader the client's last write when the caller set none.
func (c *Client) readSeq(domain string, minSeq uint64, linearizable bool) uint64 {
	if minSeq > 0 || linearizable || c.leaders == nil {
		return minSeq
	}
	return c.leaders.lastWrite(domain)
}

// notSent tells a request that never left: its connection could not be
// made.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
