package sop

import (
	"errors"
	"testing"
	"time"
)

// TestGather: the leader loop's wait for a group to fill ends when the
// group reaches the size asked for, when the wait is over, or at stop; it
// never waits when asked for no more than the group has; it takes what is
// queued when it ends, up to the limit; and it stops at take's first
// error.
func TestGather(t *testing.T) {
	reqs := make(chan *commitReq, 16)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	buf := make([]*commitReq, 0, 8)
	// run gathers for a group that holds have, and returns how many it
	// took in all and its error.
	run := func(have, want, limit int, wait time.Duration, stop <-chan struct{}, takeErr error) (int, error) {
		n := have
		err := gather(reqs, have, want, limit, wait, timer, stop, buf, func(more []*commitReq) error {
			for _, r := range more {
				if r == nil {
					t.Fatal("take got a nil request")
				}
			}
			n += len(more)
			return takeErr
		})
		return n, err
	}
	send := func(n int) {
		for range n {
			reqs <- &commitReq{}
		}
	}
	drain := func() {
		for len(reqs) > 0 {
			<-reqs
		}
	}

	// Enough already: no wait, though the group may take what is queued.
	start := time.Now()
	if got, err := run(3, 3, 8, time.Hour, nil, nil); got != 3 || err != nil {
		t.Fatalf("a group of 3 asked for 3: %d, %v", got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v with the group full", d)
	}

	// Late arrivals are waited for.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		time.Sleep(5 * time.Millisecond)
		send(4)
	}()
	if got, err := run(1, 4, 8, time.Hour, nil, nil); got < 4 || got > 5 || err != nil {
		t.Fatalf("asked for 4 with 4 more arriving: %d, %v", got, err)
	}
	<-sent
	drain()

	// What is queued is taken up to the limit.
	send(9)
	if got, err := run(1, 4, 8, time.Hour, nil, nil); got != 8 || err != nil {
		t.Fatalf("asked for 4 with 9 queued, limit 8: %d, %v", got, err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d left queued, want 2", len(reqs))
	}
	drain()

	// Nobody comes: the wait ends with what there is.
	start = time.Now()
	if got, err := run(2, 5, 8, 20*time.Millisecond, nil, nil); got != 2 || err != nil {
		t.Fatalf("nobody arrived: %d, %v", got, err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait of 20ms", d)
	}

	// Stop ends the wait and takes nothing more.
	stop := make(chan struct{})
	close(stop)
	if got, err := run(1, 5, 8, time.Hour, stop, nil); got != 1 || err != nil {
		t.Fatalf("stopped: %d, %v", got, err)
	}

	// take's error stops it.
	boom := errors.New("boom")
	send(2)
	if _, err := run(1, 5, 8, time.Hour, nil, boom); !errors.Is(err, boom) {
		t.Fatalf("take failed: %v", err)
	}
	drain()
}
