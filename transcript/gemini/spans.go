package gemini

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
)

const agentName = genai.AgentGeminiCLI

// ordinalKey numbers the turns of a conversation, from 1.
const ordinalKey = attribute.Key("gemini_cli.turn.ordinal")

// promptParts are a prompt's message parts: its texts, its inline media as
// blobs (a placeholder when it was too large to keep), its file references
// as text.
func promptParts(c *content) []genai.Part {
	var parts []genai.Part
	for _, s := range c.Texts {
		parts = append(parts, genai.Part{Type: "text", Content: s})
	}
	for _, d := range c.Media {
		modality, _, _ := strings.Cut(d.MimeType, "/")
		if d.Data == "" {
			parts = append(parts, genai.Part{Type: "text", Content: fmt.Sprintf("[%s, omitted]", d.MimeType)})
			continue
		}
		parts = append(parts, genai.Part{Type: "blob", MimeType: d.MimeType, Modality: modality, Content: d.Data})
	}
	for _, f := range c.Files {
		parts = append(parts, genai.Part{Type: "text", Content: fmt.Sprintf("[file %s %s]", f.MimeType, f.FileURI)})
	}
	return parts
}

func (b *Builder) resource() []attribute.KeyValue {
	return []attribute.KeyValue{semconv.ServiceName(agentName)}
}

// names are the attributes on every span: the operation, the provider, the
// agent and the conversation (id and title).
func (b *Builder) names(op string) []attribute.KeyValue { return b.agentNames(op, agentName) }

// agentNames are names with gen_ai.agent.name agent: a subagent's name on
// its own spans.
func (b *Builder) agentNames(op, agent string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(op),
		semconv.GenAIProviderNameKey.String(b.provider()),
		semconv.GenAIAgentNameKey.String(agent),
		semconv.GenAIConversationIDKey.String(b.session),
		genai.ConversationNameKey.String(b.title()),
		genai.SessionIDKey.String(b.session),
	}
}

// provider is gen_ai.provider.name: Vertex AI when Gemini CLI's settings
// select it, else the Gemini API. It is fixed by the first span (kept in
// the state), so a replay after a settings change names it the same.
func (b *Builder) provider() string {
	if b.st.Provider == "" {
		b.st.Provider = settingsProvider(b.opts.GeminiHome)
	}
	return b.st.Provider
}

// title is gen_ai.conversation.name, fixed by the first span built: the
// first prompt's first line (as Gemini CLI showed it: "@file explain", not
// the file's text it sent), or in metadata mode (or without a prompt)
// the project folder and the date.
func (b *Builder) title() string {
	if b.st.Title != "" {
		return b.st.Title
	}
	t := b.st.Cur
	if t != nil && !b.opts.DropContent {
		if s := genai.Title(t.Shown); s != "" {
			b.st.Title = s
			return s
		}
		for _, p := range t.Prompt {
			if p.Type == "text" {
				if s := genai.Title(p.Content); s != "" {
					b.st.Title = s
					return s
				}
			}
		}
	}
	cwd := projectRoot(b.st.Main) // as a backfill without hooks finds it
	if cwd == "" {
		cwd = b.st.Cwd
	}
	if t != nil {
		b.st.Title = genai.MetadataTitle(cwd, t.Start)
	}
	if b.st.Title == "" {
		b.st.Title = agentName + " " + b.session
	}
	return b.st.Title
}

// usageAttrs map one model call's counts to semconv usage, so that the sum
// over a conversation equals Gemini CLI's own total (tokens.total =
// input + output + thoughts + tool):
//   - input_tokens = input (the prompt, cached tokens included) + tool
//     (the tool-use prompt, which Gemini counts apart);
//   - output_tokens = output + thoughts: Gemini counts the thinking
//     tokens apart from the candidates, semconv counts reasoning as output
//     (reasoning.output_tokens is a part of output_tokens);
//   - cache_read.input_tokens = cached; cache_creation = 0 (the Gemini API
//     reports no cache writes).
func usageAttrs(u *recTokens) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		semconv.GenAIUsageInputTokensKey.Int64(u.Input + u.Tool),
		semconv.GenAIUsageOutputTokensKey.Int64(u.Output + u.Thoughts),
		semconv.GenAIUsageCacheReadInputTokensKey.Int64(u.Cached),
		semconv.GenAIUsageCacheCreationInputTokensKey.Int64(0),
	}
	if u.Thoughts > 0 {
		kv = append(kv, semconv.GenAIUsageReasoningOutputTokensKey.Int64(u.Thoughts))
	}
	return kv
}

func finish(m *message) string {
	if len(m.Tools) > 0 {
		return "tool_call"
	}
	return "stop"
}

func (b *Builder) chatSpan(trace genai.TraceID, parent genai.SpanID, agent string, m *message) genai.Span {
	attrs := b.agentNames("chat", agent)
	if m.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(m.Model), semconv.GenAIResponseModelKey.String(m.Model))
	}
	attrs = append(attrs,
		semconv.GenAIResponseIDKey.String(m.ID),
		semconv.GenAIResponseFinishReasonsKey.StringSlice([]string{finish(m)}))
	if m.Tokens != nil {
		attrs = append(attrs, usageAttrs(m.Tokens)...)
	}
	var parts []genai.Part
	for _, th := range m.Thoughts {
		parts = append(parts, genai.Part{Type: "reasoning", Content: th})
	}
	if text := strings.Join(m.Text, "\n"); text != "" {
		parts = append(parts, genai.Part{Type: "text", Content: text})
	}
	for _, tc := range m.Tools {
		parts = append(parts, genai.Part{Type: "tool_call", ID: tc.ID, Name: tc.Name, Arguments: tc.Args})
	}
	if len(parts) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: parts, FinishReason: finish(m)}}))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindChat, m.ID),
		ParentID: parent,
		Name:     strings.TrimSpace("chat " + m.Model),
		Attrs:    attrs,
		Resource: b.resource(),
	}
	s.Start, s.End = genai.Bounds(m.Start, m.End)
	return s
}

func (b *Builder) toolSpan(trace genai.TraceID, parent genai.SpanID, agent string, m *message, tc *toolCall) genai.Span {
	attrs := b.agentNames("execute_tool", agent)
	attrs = append(attrs,
		semconv.GenAIToolNameKey.String(tc.Name),
		semconv.GenAIToolCallIDKey.String(tc.ID),
		semconv.GenAIToolTypeKey.String("function"))
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
		Name:     strings.TrimSpace("execute_tool " + tc.Name),
		Attrs:    attrs,
		Resource: b.resource(),
	}
	// The call ran as its hooks say; without them, from its message
	// (written when the model asked for it) to its record.
	start := tc.Start
	if start.IsZero() {
		start = m.End
	}
	s.Start, s.End = genai.Bounds(start, tc.End)
	if tc.ExitCode != nil {
		s.Attrs = append(s.Attrs, attribute.Int64("gemini.tool.exit_code", *tc.ExitCode))
	}
	switch {
	case tc.ExitCode != nil && *tc.ExitCode != 0:
		s.Status, s.StatusMessage = genai.StatusError, fmt.Sprintf("exit code %d", *tc.ExitCode)
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("tool_error"))
	case tc.Status == "error":
		s.Status, s.StatusMessage = genai.StatusError, cutText(tc.Result, 256)
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("tool_error"))
	case tc.Status == "cancelled":
		s.Status, s.StatusMessage = genai.StatusError, "cancelled"
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("cancelled"))
	}
	return s
}

func (b *Builder) turnSpan(t *turn) genai.Span {
	trace := t.traceID(b.session)
	attrs := b.names("invoke_agent")
	if t.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(t.Model))
	}
	if len(t.Prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: t.Prompt}}))
	}
	if t.Answer != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: []genai.Part{{Type: "text", Content: t.Answer}}, FinishReason: "stop"}}))
	}
	attrs = append(attrs, ordinalKey.Int(t.Ordinal))
	if t.ErrorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(t.ErrorType))
	}
	start, end := genai.Bounds(t.Start, t.End)
	return genai.Span{
		TraceID:       trace,
		SpanID:        genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:          "invoke_agent " + agentName,
		Start:         start,
		End:           end,
		Attrs:         attrs,
		Status:        t.Status,
		StatusMessage: t.StatusMsg,
		Resource:      b.resource(),
	}
}
