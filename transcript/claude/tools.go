package claude

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weave-agentd/weave-agentd/genai"
)

// hookWait bounds how long a finished tool call waits for its PostToolUse
// hook (which carries the real duration) once hooks are known to arrive.
const hookWait = 500 * time.Millisecond

// maxResult caps a tool result kept in state until its span is emitted.
const maxResult = 64 << 10

// findPending finds the thread holding a tool call, starting with c.
func (b *Builder) findPending(c *tctx, id string) (*tctx, *toolCall) {
	if c != nil {
		if tc := c.th.Pending[id]; tc != nil {
			return c, tc
		}
	}
	for i := len(b.st.Turns) - 1; i >= 0; i-- {
		t := b.st.Turns[i]
		if tc := t.Th.Pending[id]; tc != nil {
			return b.mainCtx(t), tc
		}
	}
	for _, a := range b.st.Agents {
		if tc := a.Th.Pending[id]; tc != nil {
			return b.agentCtx(a), tc
		}
	}
	return nil, nil
}

// toolResult pairs a tool_result block with its tool_use.
func (b *Builder) toolResult(c *tctx, bl *block, r *record, ts time.Time) {
	id := bl.ToolUseID
	if id == "" {
		return
	}
	tr := r.ToolUseResult
	if at := b.st.AgentTools[id]; at != nil && !at.Result {
		at.Result = true
		at.ResultText = firstText(&bl.Content)
		if tr != nil {
			if tr.Status == "async_launched" {
				at.Background = true
				if a := b.agentIdx[at.Agent]; a != nil {
					a.Background = true
				}
			}
			if tr.AgentID != "" {
				b.linkToolAgent(id, tr.AgentID)
			}
		}
		if a := b.agentIdx[at.Agent]; a != nil && a.Linked {
			b.checkAgentDone(a)
		}
	}
	c, tc := b.findPending(c, id)
	if tc == nil || tc.Done {
		return
	}
	tc.Done = true
	tc.End = ts
	if tc.End.IsZero() || tc.End.Before(tc.Start) {
		tc.End = tc.Start
	}
	tc.Result = resultText(&bl.Content)
	if len(tc.Result) > maxResult {
		tc.Result = truncUTF8(tc.Result, maxResult) + "…[truncated]"
	}
	tc.IsError = bl.IsError
	if tc.IsError {
		tc.ErrType = toolErrType(tc.Result, tr)
	} else if tr != nil && tr.Interrupted {
		tc.IsError, tc.ErrType = true, "interrupted"
	}
	if h := b.st.HookTools[id]; h != nil || !b.st.HooksSeen || b.st.Now.IsZero() {
		b.emitTool(c, tc)
		return
	}
	tc.Deadline = b.st.Now.Add(hookWait)
}

func toolErrType(result string, tr *toolUseResult) string {
	s := result
	if tr != nil && tr.IsStr {
		s = tr.Str + "\n" + s
	}
	switch {
	case strings.Contains(s, "User rejected tool use"), strings.Contains(s, "doesn't want to proceed with this tool use"):
		return "rejected"
	case strings.Contains(s, "Sibling tool call errored"):
		return "sibling_error"
	case strings.Contains(s, "<tool_use_error>"):
		return "tool_use_error"
	case strings.Contains(s, "[Request interrupted"):
		return "interrupted"
	}
	return "tool_error"
}

// resultText renders tool_result content: text blocks joined, media as
// placeholders.
func resultText(c *content) string {
	if c.IsText {
		return c.Text
	}
	var sb strings.Builder
	for i := range c.Blocks {
		bl := &c.Blocks[i]
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		switch bl.Type {
		case "text":
			sb.WriteString(bl.Text)
		case "image", "document":
			size, mt := 0, ""
			if bl.Source != nil {
				size, mt = bl.Source.Data.Size, bl.Source.MediaType
			}
			sb.WriteString("[" + bl.Type + " " + mt + ", " + itoa(size) + " bytes base64, omitted]")
		case "tool_reference":
			sb.WriteString("[tool_reference " + bl.Name + "]")
		}
	}
	return sb.String()
}

func firstText(c *content) string {
	if c.IsText {
		return prefix(c.Text, 200)
	}
	for i := range c.Blocks {
		if c.Blocks[i].Type == "text" {
			return prefix(c.Blocks[i].Text, 200)
		}
	}
	return ""
}

func prefix(s string, n int) string {
	s = strings.TrimSpace(s)
	return truncUTF8(s, n)
}

// truncUTF8 cuts s to at most n bytes without splitting a character.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// emitTool emits a finished tool call and forgets it.
func (b *Builder) emitTool(c *tctx, tc *toolCall) {
	delete(c.th.Pending, tc.ID)
	h := b.st.HookTools[tc.ID]
	delete(b.st.HookTools, tc.ID)
	start, end := tc.Start, tc.End
	if h != nil {
		// duration_ms is the tool's own run time (without the permission
		// wait); not for Agent/Task, whose subagent starts before it counts.
		if h.HasDur && h.DurationMS >= 0 && !end.IsZero() && tc.Name != "Agent" && tc.Name != "Task" {
			start = end.Add(-time.Duration(h.DurationMS * float64(time.Millisecond)))
		}
		if h.Failed && !tc.IsError {
			tc.IsError = true
			tc.ErrType = "tool_error"
			if tc.Result == "" {
				tc.Result = h.Error
			}
		}
		if h.Interrupt {
			tc.IsError, tc.ErrType = true, "interrupted"
		}
	}
	trace, parent, session, version := b.threadIDs(c)
	b.emit(b.toolSpan(c, trace, parent, session, version, tc, start, end))
}

// cancelPending closes the tool calls of a thread that never got a result
// (the turn was interrupted or the next prompt came).
func (b *Builder) cancelPending(c *tctx, ts time.Time) {
	for _, id := range sortedPendingIDs(c.th) {
		tc := c.th.Pending[id]
		if tc.Done {
			continue
		}
		tc.Done = true
		tc.End = ts
		if tc.End.IsZero() || tc.End.Before(tc.Start) {
			tc.End = tc.Start
		}
		tc.IsError, tc.ErrType = true, "cancelled"
		if tc.Result == "" {
			tc.Result = "[no result: cancelled]"
		}
		b.emitTool(c, tc)
	}
}

func sortedPendingIDs(th *thread) []string {
	ids := make([]string, 0, len(th.Pending))
	for id := range th.Pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// flushWaitingTools emits tool calls whose hook did not come in time.
func (b *Builder) flushWaitingTools(now time.Time, force bool) {
	check := func(c *tctx) {
		for _, id := range sortedPendingIDs(c.th) {
			tc := c.th.Pending[id]
			if tc.Done && (force || !now.Before(tc.Deadline)) {
				b.emitTool(c, tc)
			}
		}
	}
	for _, t := range b.st.Turns {
		if len(t.Th.Pending) > 0 {
			check(b.mainCtx(t))
		}
	}
	for _, a := range b.st.Agents {
		if len(a.Th.Pending) > 0 && a.Linked {
			check(b.agentCtx(a))
		}
	}
}

// completeMsg emits the chat span of a finished response and counts its
// usage.
func (b *Builder) completeMsg(c *tctx, id string) {
	th := c.th
	acc := th.Msgs[id]
	for i, o := range th.Open {
		if o == id {
			th.Open = append(th.Open[:i], th.Open[i+1:]...)
			break
		}
	}
	delete(th.Msgs, id)
	if th.DoneMsgs == nil {
		th.DoneMsgs = map[string]bool{}
	}
	th.DoneMsgs[id] = true
	if acc == nil {
		return
	}
	th.Chats++
	trace, parent, session, version := b.threadIDs(c)
	model := acc.Model
	if model == "" {
		model = th.Model
	}
	if b.emit(b.chatSpan(c, trace, parent, session, version, id, model, acc)) {
		b.count(model, acc.Usage)
	}
}

// count adds a chat span's usage to the session's counted totals.
func (b *Builder) count(model string, u tokens) {
	if u.isZero() {
		return
	}
	if b.st.Counted == nil {
		b.st.Counted = map[string]tokens{}
	}
	c := b.st.Counted[model]
	c.add(u)
	b.st.Counted[model] = c
}

// flushThread completes every open response of a thread.
func (b *Builder) flushThread(c *tctx) {
	for len(c.th.Open) > 0 {
		b.completeMsg(c, c.th.Open[0])
	}
}

// threadIDs returns the trace, the parent span (the thread's invoke_agent
// span), the conversation id and the agent version for a thread's children.
func (b *Builder) threadIDs(c *tctx) (genai.TraceID, genai.SpanID, string, string) {
	if c.ag == nil {
		tr := c.turn.traceID()
		return tr, genai.NewSpanID(tr, genai.KindTurn, "turn"), c.turn.Session, c.turn.Version
	}
	a := c.ag
	tr := genai.NewTraceID(genai.AgentClaudeCode, a.Session, a.TurnKey)
	var parent genai.SpanID
	switch {
	case !a.Compact:
		parent = genai.NewSpanID(tr, genai.KindSubagent, a.ID)
	case !strings.HasPrefix(a.TurnKey, "agent:"):
		parent = genai.NewSpanID(tr, genai.KindTurn, "turn")
	}
	return tr, parent, a.Session, a.Version
}
