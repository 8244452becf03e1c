package gemini

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// message applies one message record.
func (b *Builder) message(r *record) {
	ts := parseTime(r.Timestamp)
	switch r.Type {
	case "user":
		c, cut := parseContent(r.Content)
		if cut {
			b.st.Stats.TruncatedLines++
		}
		t := b.st.Cur
		if t != nil && r.ID == t.Key {
			return // the prompt written again
		}
		if c.isPrompt() {
			b.openTurn(r.ID, ts, &c)
			if d, _ := parseContent(r.Display); len(d.Texts) > 0 {
				b.st.Cur.Shown = cutText(d.Texts[0], 1024)
			}
			return
		}
		// A tool result sent back to the model (or context): the model
		// message before it is final, the next model call starts here.
		if t != nil {
			b.flushMsg(t)
			b.touch(t, ts)
		}
	case "gemini":
		b.modelMessage(r, ts)
	case "error":
		t := b.st.Cur
		if t == nil || t.Closed {
			return
		}
		c, _ := parseContent(r.Content)
		t.Status, t.ErrorType = genai.StatusError, "gemini_error"
		t.StatusMsg = cutText(strings.Join(c.Texts, "\n"), 1024)
		b.touch(t, ts)
	}
}

// openTurn starts the turn of a prompt; the previous turn is over.
func (b *Builder) openTurn(id string, ts time.Time, c *content) {
	if t := b.st.Cur; t != nil {
		if t.Closed {
			b.flushMsg(t)
		} else {
			b.finishTurn(t)
		}
	}
	// Runs before the prompt were an earlier turn's.
	b.st.Runs = slices.DeleteFunc(b.st.Runs, func(r toolRun) bool { return later(r.Start, r.End).Before(ts) })
	b.st.Seq++
	b.st.Cur = &turn{Key: id, Ordinal: b.st.Seq, Start: ts, End: ts, Last: ts, SeenAt: b.st.Now, Prompt: promptParts(c)}
}

// modelMessage applies a model message record: a new message (the one
// before it is then final), or a rewrite of the latest one.
func (b *Builder) modelMessage(r *record, ts time.Time) {
	t := b.st.Cur
	if t == nil {
		// A model message before any prompt (a file read from its
		// middle): a turn of its own, without prompt.
		b.st.Seq++
		t = &turn{Key: "model:" + r.ID, Ordinal: b.st.Seq, Start: ts, End: ts, Last: ts, SeenAt: b.st.Now}
		b.st.Cur = t
	}
	m, cut := newMessage(r, ts)
	if cut {
		b.st.Stats.TruncatedLines++
	}
	switch {
	case t.Msg != nil && t.Msg.ID == r.ID:
		m.Start = t.Msg.Start
		if m.Tokens == nil {
			m.Tokens = t.Msg.Tokens // a rewrite never takes the usage away
		}
		t.Msg = m
	case t.Final.Has(r.ID):
		// A rewrite of a message already sent: its chat span stays as
		// sent; tool calls it adds still make spans.
		b.sendMsg(t, m)
		b.touch(t, ts)
		return
	default:
		b.flushMsg(t)
		m.Start = t.Last
		t.Msg = m
	}
	// A model message without tool calls is the turn's final answer (the
	// model loop ends when it calls no tool), unless it is rewritten with
	// tool calls: they are written once they have run. Without text, it is
	// most likely such a call.
	t.Ending = len(m.Tools) == 0 && len(m.Text) > 0
	b.touch(t, ts)
}

// touch records a line of the turn at transcript time ts.
func (b *Builder) touch(t *turn, ts time.Time) {
	if ts.After(t.Last) {
		t.Last = ts
	}
	if ts.After(t.End) {
		t.End = ts
	}
	t.SeenAt = b.st.Now
}

func newMessage(r *record, ts time.Time) (*message, bool) {
	m := &message{ID: r.ID, Model: r.Model, Start: ts, End: ts, Tokens: r.Tokens}
	c, cut := parseContent(r.Content)
	m.Text = c.Texts
	cut = cut || r.Thoughts.Cut || r.ToolCalls.Cut
	for _, th := range r.Thoughts.Items {
		s := strings.TrimSpace(th.Description)
		if subj := strings.TrimSpace(th.Subject); subj != "" {
			s = strings.TrimSpace(subj + "\n" + s)
		}
		if s == "" {
			continue
		}
		if len(s) > maxText {
			s, cut = cutText(s, maxText), true
		}
		m.Thoughts = append(m.Thoughts, s)
	}
	for i, tc := range r.ToolCalls.Items {
		args, c1 := capArgs(tc.Args)
		res, c2 := toolResult(tc.Result)
		cut = cut || c1 || c2
		call := toolCall{ID: tc.ID, Name: tc.Name, Args: args, Result: res, Status: tc.Status, ExitCode: exitCode(res), End: parseTime(tc.Timestamp)}
		if len(tc.AgentID) <= maxAgentID {
			call.Agent = tc.AgentID
		}
		if call.ID == "" {
			call.ID = r.ID + "#" + strconv.Itoa(i) // an id for the span; Gemini CLI always writes one
		}
		m.Tools = append(m.Tools, call)
	}
	return m, cut
}

// flushMsg sends the turn's latest model message: it is final.
func (b *Builder) flushMsg(t *turn) {
	if t.Msg == nil {
		return
	}
	m := t.Msg
	t.Msg = nil
	b.sendMsg(t, m)
}

// sendMsg emits a model message's chat span and its tool spans.
func (b *Builder) sendMsg(t *turn, m *message) {
	trace := t.traceID(b.session)
	parent := genai.NewSpanID(trace, genai.KindTurn, "turn")
	b.joinRuns(trace, m)
	b.emit(b.chatSpan(trace, parent, agentName, m))
	for i := range m.Tools {
		tc := &m.Tools[i]
		if tool := b.toolSpan(trace, parent, agentName, m, tc); b.emit(tool) && tc.Agent != "" {
			b.subagent(trace, tool, tc)
		}
		if e := m.Tools[i].End; e.After(t.End) {
			t.End = e
		}
	}
	if t.Final.Add(m.ID, maxFinal) {
		t.Chats++
	}
	if t.Model == "" {
		t.Model = m.Model
	}
	if text := strings.TrimSpace(strings.Join(m.Text, "\n")); text != "" {
		t.Answer = text
	}
}

// finishTurn ends a turn: its latest message is final, its span is sent.
func (b *Builder) finishTurn(t *turn) {
	if t.Closed {
		return
	}
	b.flushMsg(t)
	t.Closed, t.Ending, t.StopAt = true, false, time.Time{}
	b.emit(b.turnSpan(t))
	// What only the turn span needed is no longer kept.
	t.Prompt, t.Shown, t.Answer, t.StatusMsg = nil, "", "", ""
}

func (t *turn) traceID(session string) genai.TraceID {
	return genai.NewTraceID(genai.AgentGeminiCLI, session, t.Key)
}

// exitCode is the exit status a shell tool's output reports on a line of
// its own ("Exit Code: 3"; Gemini CLI writes none when the command
// succeeds), or nil.
func exitCode(output string) *int64 {
	const prefix = "Exit Code: "
	for line := range strings.Lines(output) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return &n
			}
		}
	}
	return nil
}
