package claude

import (
	"os"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
)

// maxCompactCalls bounds the compaction calls waiting for a cost-state
// record (versions that write none never resolve them).
const maxCompactCalls = 8

// costState notes a cost-state record, Claude Code's own usage totals for
// the session so far, and resolves the compaction calls waiting for it.
func (b *Builder) costState(r *record) {
	if r.ModelUsage == nil {
		return
	}
	cost := make(map[string]tokens, len(r.ModelUsage))
	for m, u := range r.ModelUsage {
		cost[m] = tokens{In: u.InputTokens, Out: u.OutputTokens, CacheRead: u.CacheReadInputTokens,
			CacheCreate: u.CacheCreationInputTokens, Reasoning: u.ThinkingTokens}
	}
	b.st.Cost = cost
	b.st.CostSeq++
	b.resolveCompactCalls()
}

// queueCompactCalls notes, when a turn's span is emitted, the compactions
// whose model call the transcript does not record (no agent-acompact file):
// their chat spans wait for the next cost-state record.
func (b *Builder) queueCompactCalls(t *turn) {
	for _, cmp := range t.Compactions {
		if cmp.Agent != "" {
			continue
		}
		key := cmp.UUID
		if key == "" {
			key = cmp.Time.UTC().Format(time.RFC3339Nano)
		}
		start := cmp.Time
		if cmp.DurationMs > 0 {
			start = cmp.Time.Add(-time.Duration(cmp.DurationMs * float64(time.Millisecond)))
		}
		b.st.CompactCalls = append(b.st.CompactCalls, &compactCall{
			Session: t.Session, TurnKey: t.Key, Version: t.Version, Key: "compact:" + key,
			Model: b.mainModel(t), Start: start, End: cmp.Time, CostSeq: cmp.CostSeq,
		})
	}
	if n := len(b.st.CompactCalls); n > maxCompactCalls {
		b.st.CompactCalls = append([]*compactCall(nil), b.st.CompactCalls[n-maxCompactCalls:]...)
	}
	b.resolveCompactCalls()
}

// mainModel is the model of t's main thread, else of the latest turn
// before it that called one (a /compact turn makes no call of its own).
func (b *Builder) mainModel(t *turn) string {
	if t.Th.Model != "" {
		return t.Th.Model
	}
	model := ""
	for _, o := range b.st.Turns {
		if o.Ordinal < t.Ordinal && o.Th.Model != "" {
			model = o.Th.Model
		}
	}
	return model
}

// resolveCompactCalls emits the chat span of each waiting compaction call
// once a cost-state record written after it has been read and every
// subagent's lines are in: its usage is what Claude Code counted and the
// spans emitted (or about to be) do not hold.
func (b *Builder) resolveCompactCalls() {
	if len(b.st.CompactCalls) == 0 || b.st.Cost == nil || b.agentsPending() {
		return
	}
	kept := b.st.CompactCalls[:0]
	for _, cc := range b.st.CompactCalls {
		if b.st.CostSeq <= cc.CostSeq {
			kept = append(kept, cc)
			continue
		}
		model, gap := b.costGap(cc.Model)
		b.emitCompactCall(cc, model, gap)
	}
	b.st.CompactCalls = kept
}

// agentsPending reports whether a subagent may still add usage: running, or
// its lines not read yet.
func (b *Builder) agentsPending() bool {
	for _, a := range b.st.Agents {
		if a.Done {
			continue
		}
		if a.Linked || len(a.Buffer) > 0 {
			return true
		}
		if a.File != "" && !b.st.FileSeen[a.File] {
			if fi, err := os.Stat(a.File); err == nil && fi.Size() > 0 {
				return true
			}
		}
	}
	return false
}

// costGap is the usage Claude Code counted that no chat span holds, for
// model (or, when that model has none, the model with the largest gap).
func (b *Builder) costGap(model string) (string, tokens) {
	open := b.openUsage()
	gapOf := func(m string) tokens {
		counted := b.st.Counted[m]
		counted.add(open[m])
		return b.st.Cost[m].sub(counted)
	}
	if g := gapOf(model); model != "" && !g.isZero() {
		return model, g
	}
	models := make([]string, 0, len(b.st.Cost))
	for m := range b.st.Cost {
		models = append(models, m)
	}
	sort.Strings(models)
	best, bestGap := model, tokens{}
	for _, m := range models {
		g := gapOf(m)
		if g.In+g.CacheRead+g.CacheCreate+g.Out > bestGap.In+bestGap.CacheRead+bestGap.CacheCreate+bestGap.Out {
			best, bestGap = m, g
		}
	}
	return best, bestGap
}

// openUsage is the usage of responses not yet emitted, by model.
func (b *Builder) openUsage() map[string]tokens {
	out := map[string]tokens{}
	add := func(th *thread) {
		for _, acc := range th.Msgs {
			m := acc.Model
			if m == "" {
				m = th.Model
			}
			u := out[m]
			u.add(acc.Usage)
			out[m] = u
		}
	}
	for _, t := range b.st.Turns {
		add(&t.Th)
	}
	for _, a := range b.st.Agents {
		add(&a.Th)
	}
	return out
}

// emitCompactCall emits a compaction's model call under its turn, with the
// usage the cost-state records tell (none when they tell nothing).
func (b *Builder) emitCompactCall(cc *compactCall, model string, u tokens) {
	trace := genai.NewTraceID(genai.AgentClaudeCode, cc.Session, cc.TurnKey)
	attrs := b.names("chat", agentName, cc.Session, model)
	if model != "" {
		attrs = append(attrs,
			semconv.GenAIRequestModelKey.String(model),
			semconv.GenAIResponseModelKey.String(model))
	}
	if !u.isZero() {
		attrs = append(attrs, usageAttrs(u)...)
	}
	attrs = append(attrs, compactionCallKey.Bool(true),
		attribute.String("claude_code.compaction.usage_source", "cost-state"))
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindChat, cc.Key),
		ParentID: genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:     "chat " + model,
		Attrs:    attrs,
		Resource: b.resource(cc.Version),
	}
	if model == "" {
		s.Name = "chat"
	}
	s.Start, s.End = genai.Bounds(cc.Start, cc.End)
	if b.emit(s) {
		b.count(model, u)
	}
}
