package codex

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
)

const agentName = genai.AgentCodex

// provider is gen_ai.provider.name for a Codex model_provider id. Codex
// speaks the OpenAI Responses API to every provider, and a provider id is
// whatever the user named a [model_providers.<id>] table ("mock" in the
// fixtures), so only the ids Codex itself defines for another service are
// told apart; every other one (openai, a custom table) is "openai". The id
// as configured is in codex.model_provider.
func provider(id string) string {
	switch strings.ToLower(id) {
	case "azure":
		return "azure.ai.openai"
	case "ollama", "oss":
		return "ollama"
	case "lmstudio":
		return "lmstudio"
	}
	return "openai"
}

func (b *Builder) resource(version string) []attribute.KeyValue {
	if version == "" {
		version = b.st.Meta.Version
	}
	res := []attribute.KeyValue{semconv.ServiceName(agentName)}
	if version != "" {
		res = append(res, semconv.ServiceVersion(version))
	}
	return res
}

// names are the attributes on every span: the operation, the provider, the
// agent and the conversation (id and title).
func (b *Builder) names(op, agent string) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(op),
		semconv.GenAIProviderNameKey.String(provider(b.st.Meta.Provider)),
		semconv.GenAIAgentNameKey.String(agent),
		semconv.GenAIConversationIDKey.String(b.conversation()),
		genai.ConversationNameKey.String(b.title()),
		genai.SessionIDKey.String(b.conversation()),
	}
	if b.st.Meta.Root != "" {
		// A subagent's thread cannot know the conversation's title (its
		// first prompt is in the parent's rollout): its spans name none
		// rather than a second one for the same conversation.
		kv = slices.Delete(kv, 4, 5)
	}
	return kv
}

// Subagents (multi_agent_v1). A spawned thread writes its own rollout, so
// the daemon runs a builder for it as for any session (keyed by its thread
// id, the file's name). Nothing else needs to link the two: the ids are
// derived, and each side knows its half.
//   - The spawning turn (its CollabAgentToolCall item names the thread)
//     draws `invoke_agent {agent type}` with id (trace, subagent, thread
//     id) under its spawn_agent call's span, with gen_ai.agent.id and
//     gen_ai.tool.call.id; it ends when a wait saw the thread over.
//   - The thread's builder reads in its session_meta that it is a subagent
//     (parent_thread_id; session_id is the conversation's) and in each
//     task_started the conversation's turn (root_turn_id): its chat and
//     tool spans go into that turn's trace, under the span above, in that
//     conversation (usage counted once, on its chat spans); it draws no
//     turn span of its own.
//   - A send_input to the thread starts another turn of it, whose turn_id
//     the call's output gives ({"submission_id": …}): the spawning side
//     draws that run as another `invoke_agent` under the send_input call's
//     span, with id (trace, subagent, thread id/turn id), ending when a
//     wait saw the thread over again; the thread's builder puts every turn
//     after its first (the spawn's) under that id (parentOf).
// So neither builder reads the other's file, and a restart or a backfill of
// either rollout alone gives the same bytes.

// conversation is gen_ai.conversation.id: the session's, or for a
// subagent's thread the conversation it belongs to.
func (b *Builder) conversation() string {
	if b.st.Meta.Root != "" {
		return b.st.Meta.Root
	}
	return b.session
}

// agent is gen_ai.agent.name of this thread's spans.
func (b *Builder) agent() string {
	if b.st.Meta.Root != "" {
		return subagentType(b.st.Meta.AgentType)
	}
	return agentName
}

func subagentType(s string) string {
	if s == "" {
		return "default" // what Codex's hooks call it (agent_type)
	}
	return s
}

// nested reports whether t is a subagent's turn drawn inside the trace of
// the conversation's turn that spawned it.
func (b *Builder) nested(t *turn) bool {
	return t != nil && b.st.Meta.Root != "" && t.RootTurn != ""
}

// traceOf is the trace of t's spans.
func (b *Builder) traceOf(t *turn) genai.TraceID {
	if b.nested(t) {
		return genai.NewTraceID(genai.AgentCodex, b.st.Meta.Root, t.RootTurn)
	}
	return genai.NewTraceID(genai.AgentCodex, b.session, t.ID)
}

// parentOf is the span t's chat and tool spans hang under: its turn span,
// or a subagent turn's subagent span (drawn by the spawning session).
func (b *Builder) parentOf(t *turn, trace genai.TraceID) genai.SpanID {
	if b.nested(t) {
		id := b.st.Meta.Agent
		if id == "" {
			id = b.session
		}
		if t.Ordinal > 1 {
			// A later turn of the thread: a send_input started it.
			return runSpanID(trace, id, t.ID)
		}
		return runSpanID(trace, id, "")
	}
	return genai.NewSpanID(trace, genai.KindTurn, "turn")
}

// runSpanID is the id of the span of a subagent's run: the one spawn_agent
// started (turn ""), or the thread's turn a send_input started.
func runSpanID(trace genai.TraceID, agent, turn string) genai.SpanID {
	if turn == "" {
		return genai.NewSpanID(trace, genai.KindSubagent, agent)
	}
	return genai.NewSpanID(trace, genai.KindSubagent, agent+"/"+turn)
}

// agentSpan is a subagent that turn t spawned.
func (b *Builder) agentSpan(t *turn, a *subagent) genai.Span {
	trace := b.traceOf(t)
	typ := subagentType(a.Type)
	attrs := b.names("invoke_agent", typ)
	attrs = append(attrs,
		semconv.GenAIAgentIDKey.String(a.ID),
		semconv.GenAIToolCallIDKey.String(a.Call))
	if t.Version != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(t.Version))
	}
	if a.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(a.Model))
	}
	if a.Prompt != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: a.Prompt}}}}))
	}
	if a.Answer != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, []genai.Message{{
			Role: "assistant", Parts: []genai.Part{{Type: "text", Content: a.Answer}}, FinishReason: "stop"}}))
	}
	if a.Nick != "" {
		attrs = append(attrs, attribute.String("codex.agent.nickname", a.Nick))
	}
	end := a.End
	if end.IsZero() {
		end = t.End
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   runSpanID(trace, a.ID, a.Turn),
		ParentID: genai.NewSpanID(trace, genai.KindTool, a.Call),
		Name:     "invoke_agent " + typ,
		Attrs:    attrs,
		Resource: b.resource(t.Version),
	}
	s.Start, s.End = genai.Bounds(a.Start, end)
	if a.Error != "" {
		s.Status, s.StatusMessage = genai.StatusError, "subagent "+a.Error
		s.Attrs = append(s.Attrs, errorType(a.Error))
	}
	return s
}

// title is gen_ai.conversation.name, fixed by the first span built: the
// first prompt's first line, or in metadata mode (or without a prompt) the
// project folder and the date. It is kept in the state, so a restart, live
// capture and backfill all name the conversation the same.
func (b *Builder) title() string {
	if b.st.Title != "" {
		return b.st.Title
	}
	var first *turn
	for _, t := range b.st.Turns {
		if first == nil || t.Ordinal < first.Ordinal {
			first = t
		}
		if b.opts.DropContent || b.st.Title != "" {
			continue
		}
		for _, p := range t.prompt() {
			if p.Type == "text" {
				if title := genai.Title(p.Content); title != "" {
					b.st.Title = title
					break
				}
			}
		}
	}
	if b.st.Title == "" {
		cwd, start := b.st.Meta.Cwd, time.Time{}
		if first != nil {
			start = first.Start
			if first.Cwd != "" {
				cwd = first.Cwd
			}
		}
		b.st.Title = genai.MetadataTitle(cwd, start)
	}
	if b.st.Title == "" {
		b.st.Title = agentName + " " + b.session
	}
	return b.st.Title
}

func (b *Builder) turnSpan(t *turn) genai.Span {
	trace := b.traceOf(t)
	attrs := b.names("invoke_agent", b.agent())
	if t.Version != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(t.Version))
	}
	if t.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(t.Model))
	}
	if prompt := t.prompt(); len(prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: prompt}}))
	}
	if t.Answer != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, []genai.Message{{
			Role: "assistant", Parts: []genai.Part{{Type: "text", Content: t.Answer}}, FinishReason: "stop"}}))
	}
	if si := b.systemInstructions(); si != "" {
		attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(si))
	}
	if n := len(t.Compactions); n > 0 {
		// As Claude Code's: the items before the first, after the last and
		// the last summary (W&B Weave draws a compaction card from them).
		first, last := t.Compactions[0], t.Compactions[n-1]
		if last.Summary != "" {
			attrs = append(attrs, genai.WeaveCompactionSummaryKey.String(last.Summary))
		}
		attrs = append(attrs,
			genai.WeaveCompactionItemsBeforeKey.Int(first.Before),
			genai.WeaveCompactionItemsAfterKey.Int(last.After),
			attribute.Int("codex.compactions", n))
	}
	attrs = append(attrs,
		attribute.String("codex.turn.id", t.ID),
		attribute.Int("codex.turn.ordinal", t.Ordinal))
	for _, kv := range []struct{ k, v string }{
		{"codex.cwd", t.Cwd}, {"codex.model_provider", b.st.Meta.Provider},
		{"codex.approval_policy", t.Approval}, {"codex.sandbox", t.Sandbox},
		{"codex.reasoning_effort", t.Effort}, {"codex.originator", b.st.Meta.Originator},
		{"codex.source", b.st.Meta.Source},
	} {
		if kv.v != "" {
			attrs = append(attrs, attribute.String(kv.k, kv.v))
		}
	}
	if t.ErrorType != "" {
		attrs = append(attrs, errorType(t.ErrorType))
	}
	start, end := genai.Bounds(t.Start, t.End)
	return genai.Span{
		TraceID:       trace,
		SpanID:        genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:          "invoke_agent " + b.agent(),
		Start:         start,
		End:           end,
		Attrs:         attrs,
		Status:        t.Status,
		StatusMessage: t.StatusMsg,
		Resource:      b.resource(t.Version),
	}
}

// prompt is the turn's prompt: from its lines, else from its
// UserPromptSubmit hook.
func (t *turn) prompt() []genai.Part {
	if len(t.Prompt) == 0 && t.HookPrompt != "" {
		return []genai.Part{{Type: "text", Content: t.HookPrompt}}
	}
	return t.Prompt
}

// systemInstructions are base_instructions as semconv parts, only when they
// differ from what the conversation's previous turn span carried.
func (b *Builder) systemInstructions() string {
	if b.st.Meta.System == "" {
		return ""
	}
	out, err := json.Marshal([]genai.Part{{Type: "text", Content: b.st.Meta.System}})
	if err != nil {
		return ""
	}
	h := sha256.Sum256(out)
	d := hex.EncodeToString(h[:12])
	if d == b.st.SentSys {
		return ""
	}
	b.st.SentSys = d
	return string(out)
}

func usageAttrs(u *usage) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		semconv.GenAIUsageInputTokensKey.Int64(u.Input), // includes the cached tokens
		semconv.GenAIUsageOutputTokensKey.Int64(u.Output),
		semconv.GenAIUsageCacheReadInputTokensKey.Int64(u.Cached),
		semconv.GenAIUsageCacheCreationInputTokensKey.Int64(u.CacheW),
	}
	if u.Reasoning > 0 {
		kv = append(kv, semconv.GenAIUsageReasoningOutputTokensKey.Int64(u.Reasoning))
	}
	return kv
}

// chatSpan is one model call of the turn t: key is its response_id (or a
// stand-in), c its output items, u its usage (nil: not recorded).
func (b *Builder) chatSpan(t *turn, key, model string, c *call, u *usage, end time.Time) genai.Span {
	trace := b.traceOf(t)
	parent := b.parentOf(t, trace)
	attrs := b.names("chat", b.agent())
	if model != "" {
		attrs = append(attrs,
			semconv.GenAIRequestModelKey.String(model),
			semconv.GenAIResponseModelKey.String(model))
	}
	if u != nil && !strings.HasPrefix(key, "call-") { // not a stand-in (usageRecord)
		attrs = append(attrs, semconv.GenAIResponseIDKey.String(key))
	}
	parts := c.Parts
	if c.Dropped > 0 {
		parts = append(parts[:len(parts):len(parts)], genai.Part{Type: "text", Content: "[" + strconv.Itoa(c.Dropped) + " more output items not kept]"})
	}
	finish := "stop"
	if n := len(c.Parts); n > 0 && c.Parts[n-1].Type == "tool_call" {
		finish = "tool_call"
	}
	if len(parts) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{finish}))
	}
	if u != nil {
		attrs = append(attrs, usageAttrs(u)...)
	}
	if len(parts) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: parts, FinishReason: finish}}))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindChat, key),
		ParentID: parent,
		Name:     strings.TrimSpace("chat " + model),
		Attrs:    attrs,
		Resource: b.resource(""),
	}
	s.Start, s.End = genai.Bounds(c.Start, end)
	return s
}

// toolSpan is one tool call: from its CommandExecution's start and duration
// when it ran a command, else from the call to its output.
func (b *Builder) toolSpan(t *turn, tc *tool, result string, end time.Time) genai.Span {
	trace := b.traceOf(t)
	attrs := b.names("execute_tool", b.agent())
	attrs = append(attrs,
		semconv.GenAIToolNameKey.String(tc.Name),
		semconv.GenAIToolCallIDKey.String(tc.ID),
		semconv.GenAIToolTypeKey.String("function"),
	)
	if len(tc.Args) > 0 {
		attrs = append(attrs, semconv.GenAIToolCallArgumentsKey.String(string(tc.Args)))
	}
	if result != "" {
		attrs = append(attrs, semconv.GenAIToolCallResultKey.String(result))
	}
	if tc.ExitCode != nil {
		attrs = append(attrs, attribute.Int64("codex.tool.exit_code", *tc.ExitCode))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindTool, tc.ID),
		ParentID: b.parentOf(t, trace),
		Name:     "execute_tool " + tc.Name,
		Attrs:    attrs,
		Resource: b.resource(t.Version),
	}
	start := tc.At
	if tc.Exec && !tc.Start.IsZero() {
		start, end = tc.Start, tc.End
	}
	s.Start, s.End = genai.Bounds(start, end)
	switch {
	case tc.ExitCode != nil && *tc.ExitCode != 0:
		s.Status, s.StatusMessage = genai.StatusError, "exit code "+strconv.FormatInt(*tc.ExitCode, 10)
		s.Attrs = append(s.Attrs, errorType("tool_error"))
	case tc.Status == "failed" || tc.Status == "declined":
		s.Status, s.StatusMessage = genai.StatusError, "command "+tc.Status
		s.Attrs = append(s.Attrs, errorType("tool_error"))
	}
	return s
}

func errorType(s string) attribute.KeyValue { return semconv.ErrorTypeKey.String(s) }

// setErrorType sets error.type, replacing one already there.
func setErrorType(attrs []attribute.KeyValue, s string) []attribute.KeyValue {
	for i, kv := range attrs {
		if kv.Key == semconv.ErrorTypeKey {
			attrs[i] = errorType(s)
			return attrs
		}
	}
	return append(attrs, errorType(s))
}

// dropContent replaces the content held in the state by nothing: the
// `content = "metadata"` mode keeps none in the persisted state.
func (st *state) dropContent() {
	st.Meta.System = ""
	st.Prompt = nil
	if st.Compact != nil {
		st.Compact.Summary = ""
	}
	for _, t := range st.Turns {
		t.Prompt = emptyParts(t.Prompt)
		t.HookPrompt = ""
		t.Answer, t.StatusMsg = "", ""
		for _, a := range t.Agents {
			a.Prompt, a.Answer = "", ""
		}
		for i := range t.Compactions {
			t.Compactions[i].Summary = ""
		}
		t.Call.Parts = emptyParts(t.Call.Parts)
		for _, tc := range t.Tools {
			tc.Args, tc.Result = nil, ""
		}
	}
}

// emptyParts keeps each part's type, id and name: its text and arguments go.
func emptyParts(ps []genai.Part) []genai.Part {
	for i := range ps {
		ps[i].Content, ps[i].Arguments, ps[i].Response = "", nil, nil
	}
	return ps
}
