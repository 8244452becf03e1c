package claude

import (
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

const (
	// maxClosedTurns closed turns stay in memory so that late lines (a
	// Stop hook that let the model continue, a result after an idle close,
	// a background subagent) still land in the right trace.
	maxClosedTurns = 16
	// maxEmitted span ids are remembered to refuse emitting one twice.
	maxEmitted = 1024
	// rescanEvery is how often (daemon time) subagent files are looked for.
	rescanEvery = 2 * time.Second
)

// finishTurn ends a turn: its open responses become chat spans; with cancel,
// tool calls that never got a result are closed as cancelled. The turn span
// follows once its foreground subagents are done.
func (b *Builder) finishTurn(t *turn, cancel bool, ts time.Time) {
	// A turn already over (closed by idle timeout or Stop) may have got
	// responses and tool calls from late lines: those are completed too.
	again := t.Done
	t.Done, t.Ending = true, false
	if !again {
		t.StopAt, t.StopText = time.Time{}, ""
	}
	c := b.mainCtx(t)
	b.flushThread(c)
	if cancel {
		if ts.IsZero() {
			ts = t.End
		}
		b.cancelPending(c, ts)
	}
	if !again {
		b.tryEmitTurn(t, false)
	}
}

// waiting reports whether a finished turn still expects lines from a
// foreground subagent or from its compaction call.
func (b *Builder) waiting(t *turn) bool {
	for _, a := range b.st.Agents {
		if a.Done || !a.Linked || a.TurnKey != t.Key || a.Session != t.Session {
			continue
		}
		if !a.Compact && !a.Background {
			return true
		}
	}
	for _, cmp := range t.Compactions {
		if cmp.Agent != "" {
			continue
		}
		// A compaction call file we know of but have not read yet?
		for _, a := range b.st.Agents {
			if a.Compact && !a.Linked && a.File != "" && !b.st.FileSeen[a.File] {
				return true
			}
		}
	}
	return false
}

// tryEmitTurn emits a finished turn's span unless it waits for children
// (force: it does not wait any longer).
func (b *Builder) tryEmitTurn(t *turn, force bool) {
	if t.Closed || !t.Done {
		return
	}
	if !force && b.waiting(t) {
		return
	}
	// Compaction calls are part of the turn: count them now.
	for _, a := range b.st.Agents {
		if a.Compact && a.Linked && !a.Done && a.TurnKey == t.Key && a.Session == t.Session {
			b.finishAgent(a)
		}
	}
	t.Closed = true
	if !(t.Weak && t.Th.Chats == 0 && len(t.Compactions) == 0) {
		b.emit(b.turnSpan(t))
		b.queueCompactCalls(t)
	} // else a local slash command (/model, /mcp …): no model call, no turn
	// What only the turn span needed is no longer kept.
	t.Prompt, t.Extra, t.APIErrors, t.Th.Answer = nil, nil, nil, nil
	for _, c := range t.Compactions {
		c.Summary = ""
	}
	b.pruneShapes()
	b.prune()
}

// emit queues a span, unless one with its id was emitted before; it
// reports whether it did.
func (b *Builder) emit(s genai.Span) bool {
	if !b.st.Emitted.Add(s.SpanID.String(), maxEmitted) {
		b.log.Debug("claude builder: span already emitted", "span", s.SpanID.String(), "name", s.Name)
		return false
	}
	if b.out == nil {
		b.out = make([]genai.Span, 0, max(16, b.outHint)) // no doubling from 1 on every batch
	}
	b.out = append(b.out, s)
	b.st.Stats.Spans++
	return true
}

func (b *Builder) tick(now time.Time) {
	if b.st.Scanned.IsZero() || now.Sub(b.st.Scanned) >= rescanEvery || now.Before(b.st.Scanned) {
		b.st.Scanned = now
		b.discover()
	}
	b.flushWaitingTools(now, false)

	for _, a := range b.st.Agents {
		if a.Done {
			continue
		}
		if a.SeenAt.IsZero() {
			a.SeenAt = now
			continue
		}
		quiet := now.Sub(a.SeenAt)
		switch {
		case !a.Linked:
			if len(a.Buffer) > 0 && quiet >= linkWait {
				if a.Compact {
					b.linkCompactions()
				}
				if !a.Linked {
					b.placeByTime(a)
				}
			}
		case !a.StopAt.IsZero() && !now.Before(a.StopAt.Add(b.opts.StopWait)),
			a.Ending && quiet >= b.opts.StopWait,
			a.Compact && len(a.Th.Open) > 0 && quiet >= b.opts.StopWait,
			quiet >= b.opts.IdleTimeout:
			b.finishAgent(a)
		}
	}

	for _, t := range b.st.Turns {
		if t.Closed {
			// Late responses under a closed turn: complete them once quiet.
			if len(t.Th.Open) > 0 && now.Sub(t.SeenAt) >= b.opts.StopWait {
				b.flushThread(b.mainCtx(t))
			}
			continue
		}
		if t.SeenAt.IsZero() {
			t.SeenAt = now // first seen by the daemon now (backfill before any tick)
		}
		if !t.Done && !t.StopAt.IsZero() && !now.Before(t.StopAt.Add(b.opts.StopWait)) {
			b.finishTurn(t, false, time.Time{})
			continue
		}
		// A final response (end_turn, no tool pending) and nothing since:
		// its blocks are written together, so after StopWait it is complete.
		if !t.Done && t.Ending && now.Sub(t.SeenAt) >= b.opts.StopWait {
			b.finishTurn(t, false, time.Time{})
			continue
		}
		last := t.SeenAt
		if t.LastEvent.After(last) {
			last = t.LastEvent
		}
		if now.Sub(last) >= b.opts.IdleTimeout {
			b.finishTurn(t, false, time.Time{})
			b.flushWaitingTools(now, true)
			b.tryEmitTurn(t, true)
			continue
		}
		if t.Done {
			b.tryEmitTurn(t, false)
		}
	}
	for id, h := range b.st.HookTools {
		if !h.At.IsZero() && now.Sub(h.At) >= b.opts.IdleTimeout {
			delete(b.st.HookTools, id)
		}
	}
	b.resolveCompactCalls()
}

// prune forgets the oldest closed turns beyond maxClosedTurns, and the
// Agent tool calls that belonged to them. Turns still holding a tool call
// without result or a running subagent are kept, up to four times as many.
func (b *Builder) prune() {
	closed := 0
	for _, t := range b.st.Turns {
		if t.Closed {
			closed++
		}
	}
	if closed <= maxClosedTurns {
		return
	}
	drop := closed - maxClosedTurns
	hard := max(0, closed-4*maxClosedTurns)
	kept := b.st.Turns[:0]
	for _, t := range b.st.Turns {
		if drop > 0 && t.Closed && t.Key != b.st.Cur {
			clean := len(t.Th.Pending) == 0 && !b.hasOpenAgents(t)
			if clean || hard > 0 {
				drop--
				hard--
				b.forgetTurn(t)
				continue
			}
		}
		kept = append(kept, t)
	}
	b.st.Turns = kept
}

func (b *Builder) forgetTurn(t *turn) {
	delete(b.turnIdx, t.Key)
	for id, at := range b.st.AgentTools {
		if at.Turn == t.Key && at.Session == t.Session {
			if a := b.agentIdx[at.Agent]; a == nil || a.Done {
				delete(b.st.AgentTools, id)
			}
		}
	}
}

func (b *Builder) hasOpenAgents(t *turn) bool {
	for _, a := range b.st.Agents {
		if !a.Done && a.Linked && a.TurnKey == t.Key && a.Session == t.Session {
			return true
		}
	}
	return false
}
