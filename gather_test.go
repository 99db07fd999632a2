package sop

import (
	"testing"
	"time"
)

// TestGather: the leader loop's wait for a group to fill ends when the
// group reaches the size asked for, when the wait is over, or at stop; it
// never waits when asked for no more than it has, and it takes every
// request queued when it ends, up to the group's capacity.
func TestGather(t *testing.T) {
	reqs := make(chan *commitReq, 16)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	group := func(n int) []*commitReq {
		g := make([]*commitReq, 1, 8)
		g[0] = &commitReq{}
		for range n - 1 {
			g = append(g, &commitReq{})
		}
		return g
	}

	// Enough already: no wait even with nothing queued.
	start := time.Now()
	if got := gather(group(3), reqs, 3, time.Hour, timer, nil); len(got) != 3 {
		t.Fatalf("group of 3 asked for 3: %d", len(got))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v with the group full", d)
	}

	// Late arrivals are waited for, and the queue is taken up to capacity.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		time.Sleep(5 * time.Millisecond)
		for range 4 {
			reqs <- &commitReq{}
		}
	}()
	got := gather(group(1), reqs, 4, time.Hour, timer, nil)
	if len(got) < 4 || len(got) > 5 {
		t.Fatalf("asked for 4 with 4 more arriving: got %d", len(got))
	}
	<-sent
	for range 5 - len(got) {
		<-reqs
	}
	for range 9 {
		reqs <- &commitReq{}
	}
	if got := gather(group(1), reqs, 4, time.Hour, timer, nil); len(got) != 8 {
		t.Fatalf("asked for 4 with 9 queued, capacity 8: got %d", len(got))
	}
	<-reqs
	<-reqs // the two left over

	// Nobody comes: the wait ends with what there is.
	start = time.Now()
	if got := gather(group(2), reqs, 5, 20*time.Millisecond, timer, nil); len(got) != 2 {
		t.Fatalf("nobody arrived: got %d", len(got))
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait of 20ms", d)
	}

	// Stop ends the wait.
	stop := make(chan struct{})
	close(stop)
	if got := gather(group(1), reqs, 5, time.Hour, timer, stop); len(got) != 1 {
		t.Fatalf("stopped: got %d", len(got))
	}
	// No wait at all: as it is.
	if got := gather(group(1), reqs, 5, 0, timer, nil); len(got) != 1 {
		t.Fatalf("no wait: got %d", len(got))
	}
}
