package objstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sopd/sop/snapshot"
)

// MinCleanupAge is the smallest age Cleanup accepts.
const MinCleanupAge = time.Minute

// Cleanup purges orphaned chunks: chunk subjects that no object's info
// names and whose newest chunk is older than olderThan. They are what an
// upload leaves when its process crashes, or when the purge after a failed
// upload or a Delete fails. It returns how many uploads' chunks it purged.
//
// An upload in progress has chunks that no info names yet: the age is what
// tells them apart, so olderThan must be longer than any pause of a
// snapshot writer between two chunks, and than the time from its last
// chunk to its end. An hour is a safe choice; less than MinCleanupAge is
// refused. Cleanup covers every domain of the bucket (chunk subjects do not
// name the domain) and may run on any node, at any time.
func (s *Store) Cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	n, err := s.cleanup(ctx, olderThan)
	if err != nil {
		return n, fmt.Errorf("clean up snapshot bucket %s: %w", s.bucket, err)
	}
	return n, nil
}

func (s *Store) cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan < MinCleanupAge {
		return 0, fmt.Errorf("age %v: want at least %v, so that uploads in progress are spared", olderThan, MinCleanupAge)
	}
	named, err := s.namedChunks(ctx)
	if err != nil {
		return 0, err
	}
	si, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.chunkSubject(">")))
	if err != nil {
		return 0, fmt.Errorf("list chunk subjects: %w", err)
	}
	n := 0
	for subj := range si.State.Subjects {
		if named[subj] {
			continue
		}
		purged, err := s.purgeIfOld(ctx, subj, olderThan)
		if err != nil {
			return n, err
		}
		if purged {
			n++
		}
	}
	return n, nil
}

// namedChunks returns the chunk subjects that an object's info names,
// delete markers included (the object store's Delete purges their chunks
// itself).
func (s *Store) namedChunks(ctx context.Context) (map[string]bool, error) {
	infos, err := s.obs.List(ctx, jetstream.ListObjectsShowDeleted())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	named := make(map[string]bool, len(infos))
	for _, info := range infos {
		named[s.chunkSubject(info.NUID)] = true
	}
	return named, nil
}

// purgeIfOld purges subj up to its newest message, if that message is older
// than olderThan: a purge bounded by sequence spares chunks published after
// the look.
func (s *Store) purgeIfOld(ctx context.Context, subj string, olderThan time.Duration) (bool, error) {
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read newest chunk of %s: %w", subj, err)
	}
	if s.now().Sub(last.Time) < olderThan {
		return false, nil
	}
	err = s.stream.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(last.Sequence+1))
	if err != nil {
		return false, fmt.Errorf("purge %s: %w", subj, err)
	}
	return true, nil
}

// SweepAge is the age Sweep removes orphan chunks at: far longer than any
// upload pauses.
const SweepAge = time.Hour

// Sweep implements snapshot.Sweeper: Cleanup(ctx, SweepAge) (for every
// domain of the bucket, whatever domain says).
func (s *Store) Sweep(ctx context.Context, domain string) (int, error) {
	return s.Cleanup(ctx, SweepAge)
}

var _ snapshot.Sweeper = (*Store)(nil)
