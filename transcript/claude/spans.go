package claude

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

const agentName = genai.AgentClaudeCode

// promptParts turns a user message's content into message parts, with a
// slash command shown as the command line the user typed.
func promptParts(c *content) []genai.Part {
	if c.IsText {
		return []genai.Part{{Type: "text", Content: transcript.ReadablePrompt(c.Text)}}
	}
	var parts []genai.Part
	for i := range c.Blocks {
		bl := &c.Blocks[i]
		switch bl.Type {
		case "text":
			parts = append(parts, genai.Part{Type: "text", Content: transcript.ReadablePrompt(bl.Text)})
		case "image", "document":
			parts = append(parts, mediaPart(bl))
		}
	}
	if c.Dropped > 0 {
		parts = append(parts, droppedPart(c.Dropped))
	}
	return parts
}

// droppedPart marks the content blocks of a message not kept (lineBudget).
func droppedPart(n int) genai.Part {
	return genai.Part{Type: "text", Content: fmt.Sprintf("[%d more content blocks not kept]", n)}
}

// mediaPart is an image or document block: inline when small, else a
// placeholder naming type and size.
func mediaPart(bl *block) genai.Part {
	if bl.Source == nil {
		return genai.Part{Type: "text", Content: fmt.Sprintf("[%s]", bl.Type)}
	}
	s := bl.Source
	if s.Type == "base64" && s.Data.Data != "" {
		return genai.Part{Type: "blob", MimeType: s.MediaType, Modality: bl.Type, Content: s.Data.Data}
	}
	return genai.Part{Type: "text", Content: fmt.Sprintf("[%s %s, %d bytes base64, omitted]", bl.Type, s.MediaType, s.Data.Size)}
}

func (b *Builder) resource(version string) []attribute.KeyValue {
	if version == "" {
		version = b.st.Version
	}
	res := []attribute.KeyValue{semconv.ServiceName(agentName)}
	if version != "" {
		res = append(res, semconv.ServiceVersion(version))
	}
	return res
}

func usageAttrs(u tokens) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		semconv.GenAIUsageInputTokensKey.Int64(u.In + u.CacheRead + u.CacheCreate),
		semconv.GenAIUsageOutputTokensKey.Int64(u.Out),
		semconv.GenAIUsageCacheReadInputTokensKey.Int64(u.CacheRead),
		semconv.GenAIUsageCacheCreationInputTokensKey.Int64(u.CacheCreate),
	}
	if u.Reasoning > 0 {
		kv = append(kv, semconv.GenAIUsageReasoningOutputTokensKey.Int64(u.Reasoning))
	}
	return kv
}

func answerMessages(answer []string, finish string) []genai.Message {
	parts := []genai.Part{{Type: "text", Content: strings.Join(answer, "\n")}}
	return []genai.Message{{Role: "assistant", Parts: parts, FinishReason: outputFinish(finish, parts)}}
}

// names are the attributes on every span: the conversation (id and title)
// and the agent that did the work, and the provider of its model.
func (b *Builder) names(op, agent, session, model string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(op),
		semconv.GenAIProviderNameKey.String(genai.AnthropicProvider(model)),
		semconv.GenAIAgentNameKey.String(agent),
		semconv.GenAIConversationIDKey.String(session),
		genai.ConversationNameKey.String(b.title()),
		genai.SessionIDKey.String(session),
	}
}

// threadAgent is the gen_ai.agent.name of a thread's spans: the subagent's
// type inside a subagent, else Claude Code (which also makes the compaction
// calls).
func threadAgent(c *tctx) string {
	if c.ag == nil || c.ag.Compact {
		return agentName
	}
	return subagentName(c.ag)
}

func subagentName(a *agent) string {
	if a.Type == "" {
		return "subagent"
	}
	return a.Type
}

// title is gen_ai.conversation.name, fixed by the first span built: the
// first prompt of the conversation as far as it is known (its first line,
// without markup), or in metadata mode (or without a prompt) the project
// folder and the date. It is kept in the state, so a restart, live capture
// and backfill all name the conversation the same.
func (b *Builder) title() string {
	if b.st.Title != "" {
		return b.st.Title
	}
	var first, prompted *turn // the first turn, the first with a text prompt
	for _, t := range b.st.Turns {
		if first == nil || t.Ordinal < first.Ordinal {
			first = t
		}
		if (prompted == nil || t.Ordinal < prompted.Ordinal) && promptTitle(t) != "" {
			prompted = t
		}
	}
	if prompted != nil && !b.opts.DropContent {
		b.st.Title = promptTitle(prompted)
	}
	var cwd string
	var start time.Time
	if first != nil {
		start, cwd = first.Start, first.Extra["claude_code.cwd"]
	}
	if b.st.Title == "" {
		b.st.Title = genai.MetadataTitle(cwd, start)
	}
	if b.st.Title == "" {
		b.st.Title = agentName + " " + b.session
	}
	return b.st.Title
}

// promptTitle is the title a turn's prompt makes ("" without text: a local
// command already sent has none left).
func promptTitle(t *turn) string {
	for _, p := range t.Prompt {
		if p.Type == "text" {
			if title := genai.Title(p.Content); title != "" {
				return title
			}
		}
	}
	return ""
}

// shapeAttrs are the system instructions and tool definitions of a turn,
// each only when it differs from what the conversation's previous turn span
// carried.
func (b *Builder) shapeAttrs(sys, tools json.RawMessage) []attribute.KeyValue {
	var kv []attribute.KeyValue
	if si := systemInstructions(sys); si != "" {
		if d := digest(si); d != b.st.SentSys {
			b.st.SentSys = d
			kv = append(kv, semconv.GenAISystemInstructionsKey.String(si))
		}
	}
	if td := toolDefinitions(tools); td != "" {
		if d := digest(td); d != b.st.SentTools {
			b.st.SentTools = d
			kv = append(kv, semconv.GenAIToolDefinitionsKey.String(td))
		}
	}
	return kv
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

func (b *Builder) turnSpan(t *turn) genai.Span {
	trace := t.traceID()
	model := t.Th.Model
	if model == "" && len(t.Compactions) > 0 {
		model = b.mainModel(t) // a /compact turn: its only call is the compaction's
	}
	attrs := b.names("invoke_agent", agentName, t.Session, model)
	if t.Version != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(t.Version))
	}
	if model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(model))
	}
	if len(t.Prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: t.Prompt}}))
	}
	if len(t.Th.Answer) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, answerMessages(t.Th.Answer, t.Th.Finish)))
	}
	attrs = append(attrs, b.shapeAttrs(b.turnShape(t))...)
	if t.PromptID != "" {
		attrs = append(attrs, attribute.String("claude_code.prompt_id", t.PromptID))
	}
	attrs = append(attrs, attribute.Int("claude_code.turn.ordinal", t.Ordinal))
	for _, k := range sortedKeys(t.Extra) {
		attrs = append(attrs, attribute.String(k, t.Extra[k]))
	}
	if n := len(t.Compactions); n > 0 {
		attrs = append(attrs, attribute.Int("claude_code.compactions", n))
		attrs = append(attrs, compactionAttrs(t.Compactions)...)
	}
	if t.ErrorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(t.ErrorType))
	}
	var events []genai.Event
	for _, c := range t.Compactions {
		ea := []attribute.KeyValue{}
		if c.Trigger != "" {
			ea = append(ea, attribute.String("claude_code.compaction.trigger", c.Trigger))
		}
		if c.PreTokens > 0 {
			ea = append(ea, attribute.Int64("claude_code.compaction.pre_tokens", c.PreTokens))
		}
		if c.PostTokens > 0 {
			ea = append(ea, attribute.Int64("claude_code.compaction.post_tokens", c.PostTokens))
		}
		if c.DurationMs > 0 {
			ea = append(ea, attribute.Float64("claude_code.compaction.duration_ms", c.DurationMs))
		}
		if c.Summary != "" {
			ea = append(ea, attribute.String("claude_code.compaction.summary", c.Summary))
		}
		events = append(events, genai.Event{Name: "claude_code.compaction", Time: c.Time, Attrs: ea})
	}
	for _, e := range t.APIErrors {
		ea := []attribute.KeyValue{}
		if e.Status != 0 {
			ea = append(ea, attribute.Int("http.response.status_code", e.Status))
		}
		if e.Type != "" {
			ea = append(ea, semconv.ErrorTypeKey.String(e.Type))
		}
		if e.Message != "" {
			ea = append(ea, attribute.String("error.message", e.Message))
		}
		if e.Attempt > 0 {
			ea = append(ea, attribute.Int("claude_code.retry_attempt", e.Attempt))
		}
		events = append(events, genai.Event{Name: "claude_code.api_error", Time: e.Time, Attrs: ea})
	}
	start, end := genai.Bounds(t.Start, t.End)
	return genai.Span{
		TraceID:       trace,
		SpanID:        genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:          "invoke_agent " + agentName,
		Start:         start,
		End:           end,
		Attrs:         attrs,
		Events:        events,
		Status:        t.Status,
		StatusMessage: t.StatusMsg,
		Resource:      b.resource(t.Version),
	}
}

// compactionAttrs are the attributes W&B Weave draws a compaction card
// from (it reads attributes, not events), plus Claude Code's own numbers.
// With several compactions in one turn: the messages before the first, the
// messages after and the summary of the last.
func compactionAttrs(cs []*compaction) []attribute.KeyValue {
	first, last := cs[0], cs[len(cs)-1]
	var kv []attribute.KeyValue
	if last.Summary != "" {
		kv = append(kv, genai.WeaveCompactionSummaryKey.String(last.Summary))
	}
	if first.ItemsBefore > 0 || last.ItemsAfter > 0 {
		kv = append(kv,
			genai.WeaveCompactionItemsBeforeKey.Int(first.ItemsBefore),
			genai.WeaveCompactionItemsAfterKey.Int(last.ItemsAfter))
	}
	if last.Trigger != "" {
		kv = append(kv, attribute.String("claude_code.compaction.trigger", last.Trigger))
	}
	if first.PreTokens > 0 {
		kv = append(kv, attribute.Int64("claude_code.compaction.pre_tokens", first.PreTokens))
	}
	return kv
}

func (b *Builder) agentSpan(a *agent) genai.Span {
	trace := genai.NewTraceID(genai.AgentClaudeCode, a.Session, a.TurnKey)
	var parent genai.SpanID
	switch {
	case a.ToolUseID != "":
		parent = genai.NewSpanID(trace, genai.KindTool, a.ToolUseID)
	case !strings.HasPrefix(a.TurnKey, "agent:"):
		parent = genai.NewSpanID(trace, genai.KindTurn, "turn")
	}
	typ := subagentName(a)
	attrs := b.names("invoke_agent", typ, a.Session, a.Th.Model)
	attrs = append(attrs, semconv.GenAIAgentIDKey.String(a.ID))
	if a.Version != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(a.Version))
	}
	if a.ToolUseID != "" {
		attrs = append(attrs, semconv.GenAIToolCallIDKey.String(a.ToolUseID))
	}
	if a.Desc != "" {
		attrs = append(attrs, semconv.GenAIAgentDescriptionKey.String(a.Desc))
	}
	if a.Th.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(a.Th.Model))
	}
	if len(a.Prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: a.Prompt}}))
	}
	if len(a.Th.Answer) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, answerMessages(a.Th.Answer, a.Th.Finish)))
	}
	if si := systemInstructions(a.System); si != "" {
		attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(si))
	}
	if td := toolDefinitions(a.Tools); td != "" {
		attrs = append(attrs, semconv.GenAIToolDefinitionsKey.String(td))
	}
	if a.Background {
		attrs = append(attrs, attribute.Bool("claude_code.subagent.background", true))
	}
	if a.ErrorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(a.ErrorType))
	}
	start, end := genai.Bounds(a.Start, a.End)
	return genai.Span{
		TraceID:       trace,
		SpanID:        genai.NewSpanID(trace, genai.KindSubagent, a.ID),
		ParentID:      parent,
		Name:          "invoke_agent " + typ,
		Start:         start,
		End:           end,
		Attrs:         attrs,
		Status:        a.Status,
		StatusMessage: a.StatusMsg,
		Resource:      b.resource(a.Version),
	}
}

func (b *Builder) chatSpan(c *tctx, trace genai.TraceID, parent genai.SpanID, session, version, id, model string, acc *msgAcc) genai.Span {
	attrs := b.names("chat", threadAgent(c), session, model)
	if model != "" {
		attrs = append(attrs,
			semconv.GenAIRequestModelKey.String(model),
			semconv.GenAIResponseModelKey.String(model))
	}
	if acc.MaxTok > 0 {
		attrs = append(attrs, semconv.GenAIRequestMaxTokensKey.Int64(acc.MaxTok))
	}
	if !acc.APIError {
		attrs = append(attrs, semconv.GenAIResponseIDKey.String(id))
	}
	if acc.Finish != "" || len(acc.Parts) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{outputFinish(acc.Finish, acc.Parts)}))
	}
	attrs = append(attrs, usageAttrs(acc.Usage)...)
	if len(acc.Parts) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: acc.Parts, FinishReason: outputFinish(acc.Finish, acc.Parts)}}))
	}
	if acc.RequestID != "" {
		attrs = append(attrs, attribute.String("claude_code.request_id", acc.RequestID))
	}
	if c.ag != nil && c.ag.Compact {
		attrs = append(attrs, compactionCallKey.Bool(true))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindChat, id),
		ParentID: parent,
		Name:     strings.TrimSpace("chat " + model),
		Attrs:    attrs,
		Resource: b.resource(version),
	}
	s.Start, s.End = genai.Bounds(acc.Start, acc.End)
	if acc.APIError {
		s.Status = genai.StatusError
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("api_error"))
		for _, p := range acc.Parts {
			if p.Type == "text" {
				s.StatusMessage = p.Content
				break
			}
		}
	}
	return s
}

// compactionCallKey marks the chat span of a compaction's summarising call.
// (Not "claude_code.compaction": that is the prefix of the turn's
// claude_code.compaction.* keys, which Weave would reject.)
const compactionCallKey = attribute.Key("claude_code.compaction.call")

func (b *Builder) toolSpan(c *tctx, trace genai.TraceID, parent genai.SpanID, session, version string, tc *toolCall, start, end time.Time) genai.Span {
	typ := "function"
	if strings.HasPrefix(tc.Name, "mcp__") {
		typ = "extension"
	}
	attrs := b.names("execute_tool", threadAgent(c), session, c.th.Model)
	attrs = append(attrs,
		semconv.GenAIToolNameKey.String(tc.Name),
		semconv.GenAIToolCallIDKey.String(tc.ID),
		semconv.GenAIToolTypeKey.String(typ),
	)
	if len(tc.Args) > 0 {
		attrs = append(attrs, semconv.GenAIToolCallArgumentsKey.String(string(tc.Args)))
	}
	if tc.Result != "" {
		attrs = append(attrs, semconv.GenAIToolCallResultKey.String(tc.Result))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindTool, tc.ID),
		ParentID: parent,
		Name:     "execute_tool " + tc.Name,
		Attrs:    attrs,
		Resource: b.resource(version),
	}
	s.Start, s.End = genai.Bounds(start, end)
	if tc.IsError {
		s.Status = genai.StatusError
		s.StatusMessage = prefix(tc.Result, 256)
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String(tc.ErrType))
	}
	return s
}

// systemInstructions renders a prompt_snapshot systemPrompt (array of
// strings) or an API request's system (string or text blocks) as semconv
// parts.
func systemInstructions(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var parts []genai.Part
	var s string
	var arr []json.RawMessage
	switch {
	case json.Unmarshal(raw, &s) == nil:
		parts = append(parts, genai.Part{Type: "text", Content: s})
	case json.Unmarshal(raw, &arr) == nil:
		for _, el := range arr {
			var str string
			var blk struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if json.Unmarshal(el, &str) == nil {
				parts = append(parts, genai.Part{Type: "text", Content: str})
			} else if json.Unmarshal(el, &blk) == nil && blk.Text != "" {
				parts = append(parts, genai.Part{Type: "text", Content: blk.Text})
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	out, err := json.Marshal(parts)
	if err != nil {
		return ""
	}
	return string(out)
}

// toolDefinitions renders tool definitions (prompt_snapshot tools with a
// nested schema, or API tools) as semconv function definitions.
func toolDefinitions(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
		Schema      *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"schema"`
	}
	if json.Unmarshal(raw, &tools) != nil {
		return ""
	}
	type def struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	defs := make([]def, 0, len(tools))
	for _, t := range tools {
		d := def{Type: "function", Name: t.Name, Description: t.Description, Parameters: t.InputSchema}
		if t.Schema != nil {
			if d.Name == "" {
				d.Name = t.Schema.Name
			}
			if d.Description == "" {
				d.Description = t.Schema.Description
			}
			if len(d.Parameters) == 0 {
				d.Parameters = t.Schema.InputSchema
			}
		}
		if d.Name != "" {
			defs = append(defs, d)
		}
	}
	if len(defs) == 0 {
		return ""
	}
	out, err := json.Marshal(defs)
	if err != nil {
		return ""
	}
	return string(out)
}

// outputFinish is the finish_reason of an output message, which the schema
// requires: the recorded stop reason, mapped; without one (many versions
// write stop_reason null on every line) inferred from the parts: a final
// tool call means the model stopped to call it, anything else is a normal
// stop.
func outputFinish(stop string, parts []genai.Part) string {
	if stop != "" {
		return finishReason(stop)
	}
	if n := len(parts); n > 0 && parts[n-1].Type == "tool_call" {
		return "tool_call"
	}
	return "stop"
}

// finishReason maps Anthropic stop reasons to the semconv finish reasons.
func finishReason(s string) string {
	switch s {
	case "end_turn", "stop_sequence":
		return "stop"
	case "max_tokens":
		return "length"
	case "tool_use":
		return "tool_call"
	case "refusal":
		return "content_filter"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
