package cursor

import (
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
)

const agentName = genai.AgentCursor

// providerOf derives gen_ai.provider.name from a Cursor model id or slug
// when the vendor is obvious; Cursor's own and "auto"/"default" models give
// "cursor".
func providerOf(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	m = strings.TrimPrefix(m, "cursor-")
	switch {
	case m == "":
		return "cursor"
	case strings.Contains(m, "claude"), strings.HasPrefix(m, "opus"), strings.HasPrefix(m, "sonnet"), strings.HasPrefix(m, "haiku"):
		return "anthropic"
	case strings.HasPrefix(m, "gpt"), strings.HasPrefix(m, "chatgpt"), strings.HasPrefix(m, "codex"),
		strings.HasPrefix(m, "o1"), strings.HasPrefix(m, "o3"), strings.HasPrefix(m, "o4"):
		return "openai"
	case strings.Contains(m, "gemini"):
		return "gcp.gemini"
	case strings.Contains(m, "grok"):
		return "x_ai"
	case strings.Contains(m, "deepseek"):
		return "deepseek"
	case strings.Contains(m, "mistral"), strings.Contains(m, "codestral"), strings.Contains(m, "devstral"):
		return "mistral_ai"
	}
	return "cursor"
}

// names are the attributes on every span: the conversation (id and title),
// the agent that did the work and the provider of its model.
func (b *Builder) names(op, agent, model string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(op),
		semconv.GenAIProviderNameKey.String(providerOf(model)),
		semconv.GenAIAgentNameKey.String(agent),
		semconv.GenAIConversationIDKey.String(b.conv),
		genai.ConversationNameKey.String(b.title()),
		genai.SessionIDKey.String(b.conv),
	}
}

// title is gen_ai.conversation.name, fixed by the first span built: the
// first prompt of the conversation as far as it is known (its first line,
// without markup), or in metadata mode (or without a prompt) the workspace
// folder and the date. It is kept in the state, so a restart names the
// conversation the same.
func (b *Builder) title() string {
	if b.st.Title != "" {
		return b.st.Title
	}
	var first, prompted *turn // the first turn, the first with a prompt
	for _, t := range b.st.Turns {
		if first == nil || t.Ordinal < first.Ordinal {
			first = t
		}
		if (prompted == nil || t.Ordinal < prompted.Ordinal) && b.promptTitle(t) != "" {
			prompted = t
		}
	}
	if prompted != nil && !b.opts.DropContent {
		b.st.Title = b.promptTitle(prompted)
	}
	var root string
	if len(b.st.Sess.Roots) > 0 {
		root = b.st.Sess.Roots[0]
	}
	var start time.Time
	if first != nil {
		start = first.Start
	}
	if b.st.Title == "" {
		b.st.Title = genai.MetadataTitle(root, start)
	}
	if b.st.Title == "" {
		b.st.Title = agentName + " " + b.conv
	}
	return b.st.Title
}

// promptTitle is the title a turn's prompt makes: the hook's, else that of
// the transcript turn it claimed.
func (b *Builder) promptTitle(t *turn) string {
	prompt := t.Prompt
	if prompt == "" && t.Tx >= 0 {
		if x := b.txFor(t); x != nil {
			prompt = x.Prompt
		}
	}
	return genai.Title(prompt)
}

// version is the Cursor version of a turn (else of the session).
func (b *Builder) version(t *turn) string {
	if t.Version != "" {
		return t.Version
	}
	return b.st.Sess.Version
}

// requestModel is the turn's model: model_id, else the legacy slug.
func (t *turn) requestModel() string {
	if t.ModelID != "" {
		return t.ModelID
	}
	return t.Model
}

func (b *Builder) traceID(t *turn) genai.TraceID {
	return genai.NewTraceID(genai.AgentCursor, b.conv, t.Key)
}

// resource describes the agent: service.name=cursor, service.version = the
// Cursor version, cursor.* extras, and user.email only when configured.
func (b *Builder) resource(t *turn) []attribute.KeyValue {
	s := &b.st.Sess
	res := []attribute.KeyValue{semconv.ServiceName(agentName)}
	if v := b.version(t); v != "" {
		res = append(res, semconv.ServiceVersion(v))
	}
	if len(s.Roots) > 0 {
		res = append(res, attribute.StringSlice("cursor.workspace_roots", s.Roots))
	}
	if s.ComposerMode != "" {
		res = append(res, attribute.String("cursor.composer_mode", s.ComposerMode))
	}
	if s.Background != nil {
		res = append(res, attribute.Bool("cursor.is_background_agent", *s.Background))
	}
	if b.opts.CaptureUserEmail && s.Email != "" {
		res = append(res, semconv.UserEmail(s.Email))
	}
	return res
}

func nonEmptyParts(parts []genai.Part) []genai.Part {
	var out []genai.Part
	for _, p := range parts {
		if strings.TrimSpace(p.Content) != "" {
			out = append(out, p)
		}
	}
	return out
}

// emitTurn sends a finished turn: after* events no tool event covered,
// subagents not yet sent, then the turn span. The turn stays (trimmed) so
// that late events still land in its trace.
func (b *Builder) emitTurn(t *turn) {
	x := b.claim(t)
	for _, a := range t.Afters {
		b.emitAfter(t, a)
	}
	t.Close = true
	b.linkSubagents(t, true)
	b.emit(b.turnSpan(t, x))
	t.Prompt, t.Attachments, t.Parts, t.Events, t.PartBytes = "", nil, nil, nil, 0
}

func (b *Builder) turnSpan(t *turn, x *txTurn) genai.Span {
	trace := b.traceID(t)
	model := t.requestModel()
	attrs := b.names("invoke_agent", agentName, model)
	if v := b.version(t); v != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(v))
	}
	if model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(model))
	}
	prompt := t.Prompt
	if prompt == "" && x != nil {
		prompt = x.Prompt
	}
	if prompt != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: prompt}}}}))
	}
	status, errType, msg := t.Status, t.ErrorType, t.StatusMsg
	if status != genai.StatusError && x != nil && x.Ended {
		switch x.Status {
		case "aborted":
			status, errType, msg = genai.StatusError, "interrupted", "aborted"
		case "error":
			status, errType, msg = genai.StatusError, "error", x.Error
			if msg == "" {
				msg = "error"
			}
		}
	}
	parts := nonEmptyParts(t.Parts)
	if !hasText(parts) && x != nil {
		if xp := nonEmptyParts(x.Parts); len(xp) > 0 {
			parts = make([]genai.Part, len(xp))
			for i, p := range xp {
				p.Content = strings.TrimSpace(p.Content)
				parts[i] = p
			}
		}
	}
	if len(parts) > 0 {
		finish := "stop"
		if status == genai.StatusError {
			finish = "error"
		}
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: parts, FinishReason: finish}}))
	}
	if t.Gen != "" {
		attrs = append(attrs, attribute.String("cursor.generation_id", t.Gen))
	}
	attrs = append(attrs, attribute.Int("cursor.turn.ordinal", t.Ordinal))
	if t.ModelID != "" && t.Model != "" && t.Model != t.ModelID {
		attrs = append(attrs, attribute.String("cursor.model", t.Model))
	}
	if len(t.Params) > 0 {
		attrs = append(attrs, attribute.StringSlice("cursor.model_params", t.Params))
	}
	if len(t.Attachments) > 0 {
		attrs = append(attrs, attribute.StringSlice("cursor.attachments", t.Attachments))
	}
	if t.StopStatus != "" {
		attrs = append(attrs, attribute.String("cursor.stop.status", t.StopStatus))
	}
	if t.LoopCount > 0 {
		attrs = append(attrs, attribute.Int("cursor.stop.loop_count", t.LoopCount))
	}
	if t.EndReason != "" {
		attrs = append(attrs, attribute.String("cursor.turn.end_reason", t.EndReason))
	}
	if t.Compactions > 0 {
		attrs = append(attrs, attribute.Int("cursor.compactions", t.Compactions))
	}
	if t.DropEvs > 0 {
		attrs = append(attrs, attribute.Int("cursor.events_dropped", t.DropEvs))
	}
	if status == genai.StatusError {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	events := make([]genai.Event, 0, len(t.Events))
	for _, e := range t.Events {
		events = append(events, genai.Event{Name: e.Name, Time: e.Time, Attrs: kvAttrs(e.Attrs)})
	}
	start, end := t.Start, t.End
	if !t.ChildMin.IsZero() && (start.IsZero() || t.ChildMin.Before(start)) {
		start = t.ChildMin
	}
	if t.ChildMax.After(end) {
		end = t.ChildMax
	}
	start, end = genai.Bounds(start, end)
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:     "invoke_agent " + agentName,
		Start:    start,
		End:      end,
		Attrs:    attrs,
		Events:   events,
		Status:   status,
		Resource: b.resource(t),
	}
	if status == genai.StatusError {
		s.StatusMessage = msg
	}
	return s
}

func kvAttrs(in []kvRecord) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(in))
	for _, kv := range in {
		k := attribute.Key(kv.K)
		switch {
		case kv.S != nil:
			out = append(out, k.String(*kv.S))
		case kv.I != nil:
			out = append(out, k.Int64(*kv.I))
		case kv.F != nil:
			out = append(out, k.Float64(*kv.F))
		case kv.B != nil:
			out = append(out, k.Bool(*kv.B))
		case kv.L != nil:
			out = append(out, k.StringSlice(kv.L))
		}
	}
	return out
}

func (b *Builder) toolSpan(t *turn, tc *toolCall, key string) genai.Span {
	trace := b.traceID(t)
	typ := "function"
	if isMCP(tc.Name) {
		typ = "extension"
	}
	attrs := append(b.names("execute_tool", agentName, t.requestModel()),
		semconv.GenAIToolNameKey.String(tc.Name))
	if tc.CallID != "" {
		attrs = append(attrs, semconv.GenAIToolCallIDKey.String(tc.CallID))
	}
	attrs = append(attrs, semconv.GenAIToolTypeKey.String(typ))
	if len(tc.Args) > 0 {
		attrs = append(attrs, semconv.GenAIToolCallArgumentsKey.String(string(tc.Args)))
	}
	if tc.Result != "" {
		attrs = append(attrs, semconv.GenAIToolCallResultKey.String(tc.Result))
	}
	if tc.Source != "postToolUse" && tc.Source != "postToolUseFailure" && tc.Source != "" {
		attrs = append(attrs, attribute.String("cursor.tool.source", tc.Source))
	}
	if tc.Sandbox != nil {
		attrs = append(attrs, attribute.Bool("cursor.shell.sandbox", *tc.Sandbox))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindTool, key),
		ParentID: genai.NewSpanID(trace, genai.KindTurn, "turn"),
		Name:     strings.TrimSpace("execute_tool " + tc.Name),
		Attrs:    attrs,
		Resource: b.resource(t),
	}
	s.Start, s.End = genai.Bounds(tc.Start, tc.End)
	if tc.Failed {
		s.Status = genai.StatusError
		s.StatusMessage = prefix(tc.ErrMsg, 256)
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String(tc.ErrType))
	}
	return s
}

func (b *Builder) subagentSpan(t *turn, sa *subagent) genai.Span {
	trace := b.traceID(t)
	parent := genai.NewSpanID(trace, genai.KindTurn, "turn")
	if sa.Parent != "" {
		parent = genai.NewSpanID(trace, genai.KindTool, sa.Parent)
	}
	typ := sa.Type
	if typ == "" {
		typ = "subagent"
	}
	model := sa.Model
	if model == "" {
		model = t.requestModel()
	}
	attrs := b.names("invoke_agent", typ, model)
	if sa.ID != "" {
		attrs = append(attrs, semconv.GenAIAgentIDKey.String(sa.ID))
	}
	if v := b.version(t); v != "" {
		attrs = append(attrs, semconv.GenAIAgentVersionKey.String(v))
	}
	if sa.Parent != "" {
		attrs = append(attrs, semconv.GenAIToolCallIDKey.String(sa.Parent))
	}
	if sa.Desc != "" {
		attrs = append(attrs, semconv.GenAIAgentDescriptionKey.String(sa.Desc))
	}
	if sa.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(sa.Model))
	}
	if sa.Task != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: sa.Task}}}}))
	}
	if sa.Summary != "" {
		finish := "stop" // the schema requires one
		if strings.EqualFold(sa.Status, "error") || strings.EqualFold(sa.Status, "aborted") {
			finish = "error"
		}
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: []genai.Part{{Type: "text", Content: sa.Summary}}, FinishReason: finish}}))
	}
	if sa.Status != "" {
		attrs = append(attrs, attribute.String("cursor.subagent.status", sa.Status))
	}
	for _, k := range []string{"message_count", "tool_call_count", "loop_count"} {
		if v, ok := sa.Counts[k]; ok {
			attrs = append(attrs, attribute.Int("cursor.subagent."+k, v))
		}
	}
	if len(sa.Modified) > 0 {
		attrs = append(attrs, attribute.StringSlice("cursor.subagent.modified_files", sa.Modified))
	}
	if sa.Transcript != "" {
		attrs = append(attrs, attribute.String("cursor.subagent.transcript_path", sa.Transcript))
	}
	if sa.Parallel != nil {
		attrs = append(attrs, attribute.Bool("cursor.subagent.is_parallel_worker", *sa.Parallel))
	}
	if sa.GitBranch != "" {
		attrs = append(attrs, attribute.String("cursor.subagent.git_branch", sa.GitBranch))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   genai.NewSpanID(trace, genai.KindSubagent, sa.Key),
		ParentID: parent,
		Name:     "invoke_agent " + typ,
		Attrs:    attrs,
		Resource: b.resource(t),
	}
	s.Start, s.End = genai.Bounds(sa.Start, sa.End)
	switch {
	case !sa.Stopped:
		s.Status, s.StatusMessage = genai.StatusError, "no subagentStop"
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("cancelled"))
	case strings.EqualFold(sa.Status, "aborted"):
		s.Status, s.StatusMessage = genai.StatusError, "aborted"
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("interrupted"))
	case strings.EqualFold(sa.Status, "error"):
		s.Status, s.StatusMessage = genai.StatusError, prefix(sa.Summary, 256)
		if s.StatusMessage == "" {
			s.StatusMessage = "error"
		}
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("error"))
	}
	return s
}
