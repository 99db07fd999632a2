package journal_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sopd/sop/journal"
)

// BenchmarkStreamAppend measures group commits on an embedded server with
// sync always (one fsync per atomic batch): groups of 1, 16 and 64
// messages of 300 bytes, reported as messages per second. It tells the
// engine's group commit how much batching buys.
func BenchmarkStreamAppend(b *testing.B) {
	for _, sync := range []journal.SyncMode{journal.SyncAlways, journal.SyncInterval} {
		b.Run(fmt.Sprint("sync=", sync), func(b *testing.B) { benchAppend(b, sync) })
	}
}

func benchAppend(b *testing.B, sync journal.SyncMode) {
	for _, group := range []int{1, 16, 64} {
		b.Run(fmt.Sprint("group=", group), func(b *testing.B) {
			_, j := benchStream(b, sync)
			data := make([]byte, 300)
			msgs := make([]journal.Msg, group)
			last, n := journal.Seq(0), 0
			for b.Loop() {
				for i := range msgs {
					msgs[i] = journal.Msg{ID: fmt.Sprint("tx-", n), Data: data}
					n++
				}
				if _, err := j.Append(context.Background(), last, msgs); err != nil {
					b.Fatal(err)
				}
				last += journal.Seq(group)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSinglePublish is the baseline: one plain JetStream publish per
// message with Nats-Expected-Last-Sequence, awaited before the next.
func BenchmarkSinglePublish(b *testing.B) {
	for _, sync := range []journal.SyncMode{journal.SyncAlways, journal.SyncInterval} {
		b.Run(fmt.Sprint("sync=", sync), func(b *testing.B) {
			nc, _ := benchStream(b, sync)
			js, _ := jetstream.New(nc)
			data := make([]byte, 300)
			n := 0
			for b.Loop() {
				m := nats.NewMsg("sop.journal.bench")
				m.Data = data
				m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint("tx-", n))
				m.Header.Set(jetstream.ExpectedLastSeqHeader, fmt.Sprint(n))
				if _, err := js.PublishMsg(context.Background(), m); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// benchStream starts an embedded server with the given sync mode and opens
// the stream "bench" on it; both stop when the benchmark ends.
func benchStream(b *testing.B, sync journal.SyncMode) (*nats.Conn, *journal.Stream) {
	s, err := journal.StartServer(journal.ServerOptions{Dir: b.TempDir(), Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	nc, err := s.Connect()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close(); s.Shutdown() })
	j, err := journal.OpenStream(context.Background(), nc, "bench", journal.StreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return nc, j
}
