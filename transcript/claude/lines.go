package claude

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// tctx is the thread a line belongs to: a turn's main thread or a subagent's.
type tctx struct {
	th   *thread
	turn *turn  // the turn whose main thread this is (nil for subagents)
	ag   *agent // the subagent (nil for main threads)
}

func (b *Builder) mainCtx(t *turn) *tctx   { return &tctx{th: &t.Th, turn: t} }
func (b *Builder) agentCtx(a *agent) *tctx { return &tctx{th: &a.Th, ag: a} }

// record routes one decoded line.
func (b *Builder) record(path string, r *record, raw []byte) {
	if r.Version != "" && r.Version[0] >= '0' && r.Version[0] <= '9' {
		b.st.Version = r.Version
	}
	sub := path != "" && path != b.st.Main && isAgentFile(path)
	if sub || (r.IsSidechain && r.AgentID != "") {
		id := r.AgentID
		if id == "" {
			id = agentIDFromPath(path)
		}
		if id == "" {
			b.st.Stats.SkippedLines++
			return
		}
		if !sub {
			path = ""
		}
		b.agentLine(id, path, r, raw)
		return
	}
	if path != "" && b.st.Main == "" {
		b.setMain(path)
	}
	if r.IsSidechain {
		b.inlineSideLine(r, raw)
		return
	}
	b.mainLine(r)
}

func isAgentFile(path string) bool {
	base := filepath.Base(path)
	return strings.HasPrefix(base, "agent-") && strings.HasSuffix(base, ".jsonl")
}

func agentIDFromPath(path string) string {
	base := filepath.Base(path)
	if !isAgentFile(path) {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(base, "agent-"), ".jsonl")
}

func (b *Builder) cur() *turn {
	if b.st.Cur == "" {
		return nil
	}
	return b.turnIdx[b.st.Cur]
}

func (b *Builder) sessionFor(r *record) string {
	if transcript.LooksLikeUUID(r.SessionID) {
		return r.SessionID
	}
	return b.session
}

// touchTurn notes activity on a turn at transcript time ts.
func (b *Builder) touchTurn(t *turn, ts time.Time, extend bool) {
	if !ts.IsZero() {
		if extend && ts.After(t.End) {
			t.End = ts
		}
		if t.Start.IsZero() {
			t.Start = ts
		}
		if ts.After(t.Th.LastTime) || t.Th.LastTime.IsZero() {
			t.Th.LastTime = ts
		}
	}
	t.SeenAt = b.st.Now
}

// endCheck completes a turn whose final response was followed by another record.
func (b *Builder) endCheck() {
	if t := b.cur(); t != nil && t.Ending {
		b.finishTurn(t, false, time.Time{})
	}
}

func (b *Builder) mainLine(r *record) {
	ts := parseTime(r.Timestamp)
	switch r.Type {
	case "user":
		b.mainUser(r, ts)
	case "assistant":
		b.mainAssistant(r, ts)
	case "system":
		b.mainSystem(r, ts)
	case "progress":
		b.progress(r)
		if r.Data == nil || r.Data.Type != "agent_progress" {
			b.endCheck()
			b.touchQuiet(ts)
		}
	case "attachment":
		b.attachmentRec(r)
		b.endCheck()
		b.touchQuiet(ts)
	case "api-request-shape":
		if r.Shape != nil {
			b.setShape(r.Shape.System, r.Shape.Tools, true)
		}
		b.endCheck()
		b.touchQuiet(ts)
	case "api-request":
		b.endCheck()
		b.touchQuiet(ts)
		if t := b.cur(); t != nil && !t.Done {
			if t.Th.Model == "" && r.ReqModel != "" {
				t.Th.Model = r.ReqModel
			}
			t.Th.MaxTok = r.MaxTokens
		}
	case "cost-state":
		b.endCheck()
		b.costState(r)
	default:
		b.endCheck()
	}
}

// touchQuiet notes a non-conversation line (hook progress, attachment,
// API request) of the open turn: the next response starts after it, but
// the turn does not end later because of it.
func (b *Builder) touchQuiet(ts time.Time) {
	if t := b.cur(); t != nil && !t.Done {
		b.touchTurn(t, ts, false)
	}
}

// setShape notes a request's system prompt and tool definitions: the
// session's latest, and the open turn's own. A turn keeps the shape of the
// first request it made (api-request-shape); without one, what the
// prompt_snapshots said (they may hold only the system prompt or only the
// tools) until its final response. A snapshot written after that answer —
// read before or after the turn ends, depending on timing — never changes
// its span.
func (b *Builder) setShape(sys, tools json.RawMessage, request bool) {
	if p := shapePart(sys); p != nil {
		b.st.System = p
	}
	if p := shapePart(tools); p != nil {
		b.st.Tools = p
	}
	t := b.cur()
	if t == nil || t.Closed || t.ShapeReq || (!request && t.Ending) {
		return
	}
	key := shapeKey(b.st.System, b.st.Tools)
	if b.st.Shapes == nil {
		b.st.Shapes = map[string]*shape{}
	}
	if b.st.Shapes[key] == nil {
		b.st.Shapes[key] = &shape{System: b.st.System, Tools: b.st.Tools}
	}
	t.ShapeKey, t.ShapeReq = key, request
	b.pruneShapes()
}

// shapePart copies a system prompt or tool list worth keeping (nil when
// absent or larger than 512 KiB).
func shapePart(raw json.RawMessage) json.RawMessage {
	const maxShape = 512 << 10
	if len(raw) == 0 || string(raw) == "null" || len(raw) > maxShape {
		return nil
	}
	return append(json.RawMessage(nil), raw...)
}

func shapeKey(sys, tools json.RawMessage) string {
	h := fnv.New64a()
	h.Write(sys)
	h.Write([]byte{0})
	h.Write(tools)
	return itoaHex(h.Sum64())
}

// turnShape is the system prompt and tool definitions of t's requests.
func (b *Builder) turnShape(t *turn) (sys, tools json.RawMessage) {
	if sh := b.st.Shapes[t.ShapeKey]; sh != nil {
		return sh.System, sh.Tools
	}
	return b.st.System, b.st.Tools // no shape seen during the turn (older versions)
}

// pruneShapes forgets the shapes no unsent turn refers to.
func (b *Builder) pruneShapes() {
	for k := range b.st.Shapes {
		used := false
		for _, t := range b.st.Turns {
			if !t.Closed && t.ShapeKey == k {
				used = true
				break
			}
		}
		if !used {
			delete(b.st.Shapes, k)
		}
	}
}

func (b *Builder) attachmentRec(r *record) {
	a := r.Attachment
	if a == nil {
		return
	}
	if a.Type == "prompt_snapshot" {
		b.setShape(a.SystemPrompt, a.Tools, false)
	}
}

// userKind classifies a user line's content.
func userKind(c *content) (kind promptKind, hasToolResult bool) {
	if c.IsText {
		return classifyUserText(c.Text), false
	}
	kind = notPrompt
	for i := range c.Blocks {
		bl := &c.Blocks[i]
		switch bl.Type {
		case "tool_result":
			hasToolResult = true
		case "text":
			if k := classifyUserText(bl.Text); kind == notPrompt || k == interruption {
				kind = k
			}
		case "image", "document":
			if kind == notPrompt {
				kind = realPrompt
			}
		}
	}
	return kind, hasToolResult
}

func userText(c *content) string {
	if c.IsText {
		return c.Text
	}
	var parts []string
	for i := range c.Blocks {
		if c.Blocks[i].Type == "text" {
			parts = append(parts, c.Blocks[i].Text)
		}
	}
	return strings.Join(parts, "\n")
}

func (b *Builder) mainUser(r *record, ts time.Time) {
	if r.Message == nil {
		return
	}
	c := &r.Message.Content
	t := b.cur()
	if r.PromptID != "" {
		if pt := b.turnIdx[r.PromptID]; pt != nil {
			t = pt
		}
	}
	kind, hasToolResult := userKind(c)
	if !r.IsCompactSummary && kind != commandLine && !isLocalOutput(c) {
		b.st.Items++ // a message in the model's context
	}
	if hasToolResult {
		if t != nil {
			b.touchTurn(t, ts, true)
		}
		for i := range c.Blocks {
			if c.Blocks[i].Type == "tool_result" {
				var ctx *tctx
				if t != nil {
					ctx = b.mainCtx(t)
				}
				b.toolResult(ctx, &c.Blocks[i], r, ts)
			}
		}
		return
	}
	if r.IsCompactSummary {
		b.compactSummary(userText(c))
		if t != nil && !t.Done {
			b.touchTurn(t, ts, true)
		}
		return
	}
	if r.IsMeta {
		if t != nil && !t.Done {
			b.touchTurn(t, ts, true)
		}
		return
	}
	switch kind {
	case interruption:
		if t != nil {
			if !t.Closed {
				b.touchTurn(t, ts, true)
				t.Status = genai.StatusError
				t.StatusMsg = "interrupted by user"
				t.ErrorType = "interrupted"
			}
			b.finishTurn(t, true, ts)
		}
		return
	case notPrompt:
		if t != nil && !t.Done {
			// The output of a local command (/compact, /model …) ends the
			// command's turn when the model was not involved.
			local := t.Weak && t.Th.LastMsg == "" && isLocalOutput(c)
			b.touchTurn(t, ts, local)
			if local {
				b.finishTurn(t, false, time.Time{})
			}
		}
		return
	}
	// A new prompt: it completes the previous turn and opens a new one.
	key := r.PromptID
	if key == "" {
		key = r.UUID
	}
	if key == "" {
		b.st.Stats.SkippedLines++
		return
	}
	if existing := b.turnIdx[key]; existing != nil {
		// Same prompt id: another line of the same turn; before any
		// response it is part of the prompt.
		if !existing.Done {
			b.touchTurn(existing, ts, true)
			// A line read again (a transcript rewritten while tailed) adds nothing.
			again := r.UUID != "" && slices.Contains(existing.PromptLines, r.UUID)
			if !again && existing.Th.LastMsg == "" && len(existing.Th.Open) == 0 && existing.Th.Chats == 0 {
				existing.Prompt = append(existing.Prompt, promptParts(c)...)
				existing.PromptLines = appendUUID(existing.PromptLines, r.UUID)
				existing.Weak = existing.Weak && kind == commandLine
			}
		}
		b.st.Cur = key
		b.checkTaskNotification(userText(c))
		return
	}
	if prev := b.cur(); prev != nil {
		b.finishTurn(prev, true, ts)
	}
	nt := b.openTurn(key, r, ts)
	nt.Weak = kind == commandLine
	nt.PromptID = r.PromptID
	nt.Prompt = promptParts(c)
	nt.PromptLines = appendUUID(nil, r.UUID)
	b.checkTaskNotification(userText(c))
}

// openTurn starts a new turn keyed key at ts.
func (b *Builder) openTurn(key string, r *record, ts time.Time) *turn {
	b.st.Seq++
	nt := &turn{
		Key:     key,
		Session: b.sessionFor(r),
		Ordinal: b.st.Seq,
		Start:   ts,
		End:     ts,
		Version: r.Version,
		SeenAt:  b.st.Now,
	}
	nt.Th.LastTime = ts
	nt.Extra = map[string]string{}
	setExtra(nt.Extra, "claude_code.cwd", r.Cwd)
	setExtra(nt.Extra, "claude_code.git_branch", r.GitBranch)
	setExtra(nt.Extra, "claude_code.permission_mode", r.PermissionMode)
	setExtra(nt.Extra, "claude_code.entrypoint", r.Entrypoint)
	if len(nt.Extra) == 0 {
		nt.Extra = nil
	}
	if nt.Version == "" || !(nt.Version[0] >= '0' && nt.Version[0] <= '9') {
		nt.Version = b.st.Version
	}
	if b.st.Compact != nil {
		nt.Compactions = append(nt.Compactions, b.st.Compact)
		b.st.Compact = nil
	}
	b.st.Turns = append(b.st.Turns, nt)
	b.turnIdx[key] = nt
	b.st.Cur = key
	b.prune()
	b.linkCompactions()
	return nt
}

func setExtra(m map[string]string, k, v string) {
	if v != "" && v != "<string>" {
		m[k] = v
	}
}

func msgID(r *record) string {
	if r.Message != nil && r.Message.ID != "" {
		return r.Message.ID
	}
	if r.RequestID != "" {
		return r.RequestID
	}
	return r.UUID
}

func (b *Builder) mainAssistant(r *record, ts time.Time) {
	if r.Message == nil {
		return
	}
	t := b.cur()
	id := msgID(r)
	if t == nil {
		// Model output with no prompt before it (a resumed or continued
		// session): a turn keyed by this line.
		key := r.UUID
		if key == "" {
			key = id
		}
		if key == "" {
			b.st.Stats.SkippedLines++
			return
		}
		t = b.openTurn(key, r, ts)
	}
	if t.Ending && id != t.Th.LastMsg {
		b.finishTurn(t, false, time.Time{})
	}
	if !t.Closed {
		b.touchTurn(t, time.Time{}, true)
		if !ts.IsZero() && ts.After(t.End) {
			t.End = ts
		}
	}
	ctx := b.mainCtx(t)
	b.addAssistant(ctx, r, ts)
	t.SeenAt = b.st.Now
	if r.IsAPIErrorMessage && !t.Closed {
		// A StopFailure hook applied before this line keeps its more
		// specific error type and details (see Hook).
		t.Status = genai.StatusError
		if t.ErrorType == "" || t.ErrorType == "unknown" {
			t.ErrorType = "api_error"
		}
		if t.StatusMsg == "" {
			t.StatusMsg = strings.Join(t.Th.Answer, "\n")
		}
	}
	if isFinal(t.Th.Finish) && len(t.Th.Pending) == 0 {
		t.Ending = true
	}
	if t.Done {
		return
	}
	if !t.StopAt.IsZero() && t.StopText != "" && answerMatches(t.Th.Answer, t.StopText) {
		b.finishTurn(t, false, time.Time{})
	}
}

func isFinal(stop string) bool {
	switch stop {
	case "end_turn", "max_tokens", "stop_sequence", "refusal":
		return true
	}
	return false
}

// answerMatches reports whether the text blocks of a response are the text
// want (Stop's last_assistant_message, or the start of a Task result).
func answerMatches(answer []string, want string) bool {
	got := strings.TrimSpace(strings.Join(answer, "\n"))
	want = strings.TrimSpace(want)
	if got == "" || want == "" {
		return false
	}
	if isDigest(got) || isDigest(want) {
		return digestMatches(got, want) // Options.DropContent
	}
	if got == want || strings.HasPrefix(want, got) {
		// Task results may append "agentId: … <usage>…</usage>" to the text.
		return true
	}
	n := min(len(want), 100)
	return len(got) >= n && got[:n] == want[:n]
}

func (b *Builder) mainSystem(r *record, ts time.Time) {
	t := b.cur()
	switch r.Subtype {
	case "compact_boundary":
		cmp := &compaction{Time: ts, UUID: r.UUID, CostSeq: b.st.CostSeq, ItemsBefore: b.st.Items, ItemsAfter: 1}
		if m := r.CompactMetadata; m != nil {
			cmp.Trigger, cmp.PreTokens, cmp.PostTokens, cmp.DurationMs = m.Trigger, m.PreTokens, m.PostTokens, m.DurationMs
			if m.PreservedMessages != nil {
				cmp.ItemsAfter += len(m.PreservedMessages.UUIDs) // the summary, then what was kept
			}
		}
		b.st.Items = cmp.ItemsAfter
		// Mid-turn (the model was using tools, or the turn is a /compact
		// command with no response yet): the compaction belongs to this turn.
		// After a final answer it was triggered by the next prompt.
		if t != nil && !t.Done && !t.Ending && (t.Th.HasTool || len(t.Th.Pending) > 0 || t.Th.LastMsg == "") {
			t.Compactions = append(t.Compactions, cmp)
			b.touchTurn(t, ts, true)
		} else {
			b.endCheck()
			b.st.Compact = cmp
		}
		b.linkCompactions()
		return
	case "api_error":
		if t != nil && !t.Closed && len(t.APIErrors) < 32 {
			ev := apiErrEvent{Time: ts, Attempt: r.RetryAttempt}
			if e := r.APIError; e != nil {
				ev.Status = e.Status
				if e.Error != nil && e.Error.Error != nil {
					ev.Type, ev.Message = e.Error.Error.Type, e.Error.Error.Message
				}
			}
			t.APIErrors = append(t.APIErrors, ev)
			b.touchTurn(t, ts, true)
		}
		return
	}
	if t == nil {
		return
	}
	switch r.Subtype {
	case "stop_hook_summary", "turn_duration":
		if !t.Done {
			b.touchTurn(t, ts, true)
		}
		b.finishTurn(t, false, time.Time{})
	default:
		b.endCheck()
	}
}

func (b *Builder) compactSummary(text string) {
	const maxSummary = 16 << 10
	if len(text) > maxSummary {
		text = truncUTF8(text, maxSummary)
	}
	var last *compaction
	if b.st.Compact != nil {
		last = b.st.Compact
	} else if t := b.cur(); t != nil && len(t.Compactions) > 0 {
		last = t.Compactions[len(t.Compactions)-1]
	}
	if last != nil && last.Summary == "" {
		last.Summary = text
	}
}

// progress links subagents to the tool calls that started them
// (agent_progress); its message copies are never counted.
func (b *Builder) progress(r *record) {
	d := r.Data
	if d == nil || d.Type != "agent_progress" || d.AgentID == "" || r.ParentToolUseID == "" {
		return
	}
	b.linkToolAgent(r.ParentToolUseID, d.AgentID)
}

// checkTaskNotification marks a background subagent finished when the parent
// is told so (<task-notification><task-id>ID</task-id>…).
func (b *Builder) checkTaskNotification(s string) {
	i := strings.Index(s, "<task-notification>")
	if i < 0 {
		return
	}
	s = s[i:]
	j := strings.Index(s, "<task-id>")
	k := strings.Index(s, "</task-id>")
	if j < 0 || k < j {
		return
	}
	id := strings.TrimSpace(s[j+len("<task-id>") : k])
	if a := b.agentIdx[id]; a != nil && a.Linked && !a.Done {
		if a.File != "" && !b.st.FileSeen[a.File] {
			// Its own lines are not read yet (a backfill reads the main
			// file first): the time rules finish it once they are.
			return
		}
		b.finishAgent(a)
	}
}

// addAssistant adds one assistant line to a thread.
func (b *Builder) addAssistant(c *tctx, r *record, ts time.Time) {
	m := r.Message
	th := c.th
	id := msgID(r)
	if id == "" {
		b.st.Stats.SkippedLines++
		return
	}
	if th.DoneMsgs[id] {
		return // a late or replayed block of a response already emitted
	}
	if id != th.LastMsg {
		// A new response completes the open ones.
		for len(th.Open) > 0 {
			b.completeMsg(c, th.Open[0])
		}
	}
	acc := th.Msgs[id]
	if acc == nil {
		start := th.LastTime
		if start.IsZero() || (!ts.IsZero() && start.After(ts)) {
			start = ts
		}
		acc = &msgAcc{Start: start, End: ts, MaxTok: th.MaxTok}
		if c.ag == nil {
			b.st.Items++ // a response in the main thread's context
		}
		if th.Msgs == nil {
			th.Msgs = map[string]*msgAcc{}
		}
		th.Msgs[id] = acc
		th.Open = append(th.Open, id)
	}
	if ts.After(acc.End) {
		acc.End = ts
	}
	acc.Usage.maxWith(m.Usage)
	if m.Model != "" && m.Model != "<synthetic>" {
		acc.Model = m.Model
		th.Model = m.Model
	}
	if r.RequestID != "" {
		acc.RequestID = r.RequestID
	}
	if r.IsAPIErrorMessage {
		acc.APIError = true
	}
	if id != th.LastMsg {
		th.LastMsg = id
		th.Answer = nil
		th.Finish = ""
		th.HasTool = false
	}
	if m.StopReason != nil && *m.StopReason != "" {
		acc.Finish = *m.StopReason
		th.Finish = *m.StopReason
	}
	if !ts.IsZero() {
		th.LastTime = ts
	}
	// Replayed block lines (same response, same apiBlockIndex) add nothing.
	if r.APIBlockIndex != nil {
		for _, i := range acc.Blocks {
			if i == *r.APIBlockIndex {
				return
			}
		}
		acc.Blocks = append(acc.Blocks, *r.APIBlockIndex)
	}
	for i := range m.Content.Blocks {
		bl := &m.Content.Blocks[i]
		switch bl.Type {
		case "text":
			if bl.Text != "" {
				acc.Parts = append(acc.Parts, genai.Part{Type: "text", Content: bl.Text})
				th.Answer = append(th.Answer, bl.Text)
			}
		case "thinking":
			acc.Parts = append(acc.Parts, genai.Part{Type: "reasoning", Content: bl.Thinking})
		case "redacted_thinking":
			acc.Parts = append(acc.Parts, genai.Part{Type: "reasoning", Content: "[redacted thinking]"})
		case "tool_use", "server_tool_use":
			if bl.ID == "" {
				continue
			}
			args := compactJSON(bl.Input)
			acc.Parts = append(acc.Parts, genai.Part{Type: "tool_call", ID: bl.ID, Name: bl.Name, Arguments: args})
			th.HasTool = true
			if th.Pending == nil {
				th.Pending = map[string]*toolCall{}
			}
			if _, dup := th.Pending[bl.ID]; !dup {
				th.Pending[bl.ID] = &toolCall{ID: bl.ID, Name: bl.Name, Args: args, Start: ts}
			}
			if bl.Name == "Task" || bl.Name == "Agent" {
				b.registerAgentTool(c, bl)
			}
		}
	}
	if n := m.Content.Dropped; n > 0 {
		acc.Parts = append(acc.Parts, droppedPart(n))
	}
	if c.ag != nil {
		c.ag.SeenAt = b.st.Now
	}
}

// compactJSON copies a tool input (nil when absent).
func compactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil
	}
	return json.RawMessage(buf.Bytes())
}

func isLocalOutput(c *content) bool {
	t := strings.TrimSpace(userText(c))
	return strings.HasPrefix(t, "<local-command-stdout>") || strings.HasPrefix(t, "<local-command-stderr>")
}

// maxPromptLines bounds the line uuids a turn remembers for its prompt.
const maxPromptLines = 16

func appendUUID(l []string, uuid string) []string {
	if uuid == "" || len(l) >= maxPromptLines {
		return l
	}
	return append(l, uuid)
}
