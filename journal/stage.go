package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// AppendStaged is a Staged for a journal that has nowhere to stage
// messages before their commit (Memory, and test doubles of a Journal):
// Add keeps copies of the messages, at most MaxBatch, and Commit appends
// them whole with j.Append, with its meaning and errors.
func AppendStaged(j Journal, expectLast Seq) Staged {
	return &appendStaged{j: j, expect: expectLast}
}

type appendStaged struct {
	j      Journal
	expect Seq
	msgs   []Msg
	err    error // ends the group: Add and Commit return it
}

var (
	errStagedDone      = errors.New("journal: staged group already committed")
	errStagedAbandoned = errors.New("journal: staged group abandoned")
)

func (g *appendStaged) Add(msgs ...Msg) error {
	if g.err != nil {
		return g.err
	}
	for _, msg := range msgs {
		if len(g.msgs) == MaxBatch {
			g.err = fmt.Errorf("%w: a staged group takes at most %d messages", ErrTooLarge, MaxBatch)
			return g.err
		}
		g.msgs = append(g.msgs, Msg{ID: msg.ID, Data: slices.Clone(msg.Data)})
	}
	return nil
}

func (g *appendStaged) Commit(ctx context.Context) (Seq, error) {
	if g.err != nil {
		return 0, g.err
	}
	g.err = errStagedDone
	return g.j.Append(ctx, g.expect, g.msgs)
}

func (g *appendStaged) Abandon() {
	if g.err == nil {
		g.err = errStagedAbandoned
	}
	g.msgs = nil
}
