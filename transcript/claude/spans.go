package claude

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
)

const (
	providerName = "anthropic"
	agentName    = genai.AgentClaudeCode
)

// promptParts turns a user message's content into message parts.
func promptParts(c *content) []genai.Part {
	if c.IsText {
		return []genai.Part{{Type: "text", Content: c.Text}}
	}
	var parts []genai.Part
	for i := range c.Blocks {
		bl := &c.Blocks[i]
		switch bl.Type {
		case "text":
			parts = append(parts, genai.Part{Type: "text", Content: bl.Text})
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
		return genai.Part{Type: "blob", MimeType: s.MediaType, Content: s.Data.Data}
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
	return []genai.Message{{Role: "assistant", Parts: []genai.Part{{Type: "text", Content: strings.Join(answer, "\n")}}, FinishReason: finishReason(finish)}}
}

func (b *Builder) turnSpan(t *turn) genai.Span {
	trace := t.traceID()
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String("invoke_agent"),
		semconv.GenAIProviderNameKey.String(providerName),
		semconv.GenAIAgentNameKey.String(agentName),
		semconv.GenAIConversationIDKey.String(t.Session),
	}
	if t.Th.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(t.Th.Model))
	}
	attrs = append(attrs, usageAttrs(t.Th.Usage)...)
	if len(t.Prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: t.Prompt}}))
	}
	if len(t.Th.Answer) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, answerMessages(t.Th.Answer, t.Th.Finish)))
	}
	sys, tools := b.turnShape(t)
	if si := systemInstructions(sys); si != "" {
		attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(si))
	}
	if td := toolDefinitions(tools); td != "" {
		attrs = append(attrs, semconv.GenAIToolDefinitionsKey.String(td))
	}
	if t.PromptID != "" {
		attrs = append(attrs, attribute.String("claude_code.prompt_id", t.PromptID))
	}
	attrs = append(attrs, attribute.Int("claude_code.turn.ordinal", t.Ordinal))
	for _, k := range sortedKeys(t.Extra) {
		attrs = append(attrs, attribute.String(k, t.Extra[k]))
	}
	if len(t.Compactions) > 0 {
		attrs = append(attrs, attribute.Int("claude_code.compactions", len(t.Compactions)))
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

func (b *Builder) agentSpan(a *agent) genai.Span {
	trace := genai.NewTraceID(genai.AgentClaudeCode, a.Session, a.TurnKey)
	var parent genai.SpanID
	switch {
	case a.ToolUseID != "":
		parent = genai.NewSpanID(trace, genai.KindTool, a.ToolUseID)
	case !strings.HasPrefix(a.TurnKey, "agent:"):
		parent = genai.NewSpanID(trace, genai.KindTurn, "turn")
	}
	typ := a.Type
	if typ == "" {
		typ = "subagent"
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String("invoke_agent"),
		semconv.GenAIProviderNameKey.String(providerName),
		semconv.GenAIAgentNameKey.String(typ),
		semconv.GenAIAgentIDKey.String(a.ID),
		semconv.GenAIConversationIDKey.String(a.Session),
	}
	if a.Desc != "" {
		attrs = append(attrs, semconv.GenAIAgentDescriptionKey.String(a.Desc))
	}
	if a.Th.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(a.Th.Model))
	}
	attrs = append(attrs, usageAttrs(a.Th.Usage)...)
	if len(a.Prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: a.Prompt}}))
	}
	if len(a.Th.Answer) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey, answerMessages(a.Th.Answer, a.Th.Finish)))
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

func (b *Builder) chatSpan(trace genai.TraceID, parent genai.SpanID, session, version, id, model string, acc *msgAcc, compaction bool) genai.Span {
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String("chat"),
		semconv.GenAIProviderNameKey.String(providerName),
		semconv.GenAIConversationIDKey.String(session),
	}
	if model != "" {
		attrs = append(attrs,
			semconv.GenAIRequestModelKey.String(model),
			semconv.GenAIResponseModelKey.String(model))
	}
	if !acc.APIError {
		attrs = append(attrs, semconv.GenAIResponseIDKey.String(id))
	}
	if acc.Finish != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{finishReason(acc.Finish)}))
	}
	attrs = append(attrs, usageAttrs(acc.Usage)...)
	if len(acc.Parts) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: acc.Parts, FinishReason: finishReason(acc.Finish)}}))
	}
	if acc.RequestID != "" {
		attrs = append(attrs, attribute.String("claude_code.request_id", acc.RequestID))
	}
	if compaction {
		attrs = append(attrs, attribute.Bool("claude_code.compaction", true))
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

func (b *Builder) toolSpan(trace genai.TraceID, parent genai.SpanID, session, version string, tc *toolCall, start, end time.Time) genai.Span {
	typ := "function"
	if strings.HasPrefix(tc.Name, "mcp__") {
		typ = "extension"
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String("execute_tool"),
		semconv.GenAIProviderNameKey.String(providerName),
		semconv.GenAIConversationIDKey.String(session),
		semconv.GenAIToolNameKey.String(tc.Name),
		semconv.GenAIToolCallIDKey.String(tc.ID),
		semconv.GenAIToolTypeKey.String(typ),
	}
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
