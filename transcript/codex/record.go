package codex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// record applies one rollout record.
func (b *Builder) record(typ string, p *payload, ts time.Time) {
	if typ != "session_meta" {
		// Any line of a turn (token_count too) extends it; a resumed
		// session's session_meta comes before its next turn.
		b.openTurn(p.turnID(), ts)
	}
	switch typ {
	case "session_meta":
		b.sessionMeta(p)
	case "turn_context":
		b.turnContext(p, ts)
	case "event_msg":
		b.event(p, ts)
	case "response_item":
		b.responseItem(p, ts)
	case "token_usage_record":
		b.st.Records = true
		b.usageRecord(p, ts)
	case "compacted":
		b.compacted(p, ts)
	}
}

// summaryPreamble ends the text Codex puts before a compaction's summary.
const summaryPreamble = "use the information in this summary to assist with your own analysis:\n"

// compacted: Codex replaced the model's history by a summary. It goes on
// the turn during which it ran, else on the next turn.
func (b *Builder) compacted(p *payload, ts time.Time) {
	summary := jsonText(p.Message)
	if i := strings.Index(summary, summaryPreamble); i >= 0 {
		summary = summary[i+len(summaryPreamble):]
	}
	c := compaction{Summary: b.clip(summary), Before: b.st.Items, After: int(p.ReplacementHistory)}
	b.st.Items = c.After
	if t := b.openTurn(p.turnID(), ts); t != nil && !t.Done {
		t.addCompaction(c)
		return
	}
	b.st.Compact = &c
}

func (t *turn) addCompaction(c compaction) {
	if len(t.Compactions) >= maxCompactions {
		t.Compactions[len(t.Compactions)-1] = c // keep the first and the latest
		return
	}
	t.Compactions = append(t.Compactions, c)
}

func (b *Builder) sessionMeta(p *payload) {
	m := &b.st.Meta
	if p.Cwd != "" {
		m.Cwd = p.Cwd
	}
	if p.CLIVersion != "" {
		m.Version = p.CLIVersion
	}
	if p.ModelProvider != "" {
		m.Provider = p.ModelProvider
	}
	if p.Originator != "" {
		m.Originator = p.Originator
	}
	if s := policyType(p.Source); s != "" {
		m.Source = s
	}
	if p.ParentThreadID != "" && p.SessionID != "" && p.SessionID != p.ID {
		// A subagent's thread: its spans join the conversation that
		// spawned it (see conversation).
		m.Root = strings.Clone(p.SessionID)
		m.Agent = strings.Clone(p.ID)
		var src struct {
			Subagent struct {
				ThreadSpawn struct {
					Role string `json:"agent_role"`
				} `json:"thread_spawn"`
			} `json:"subagent"`
		}
		if len(p.Source) > 0 && p.Source[0] == '{' && json.Unmarshal(p.Source, &src) == nil {
			m.AgentType = strings.Clone(prefix(src.Subagent.ThreadSpawn.Role, maxName))
		}
	}
	var bi struct {
		Text string `json:"text"`
	}
	if len(p.BaseInstructions) > 0 && p.BaseInstructions[0] == '{' && json.Unmarshal(p.BaseInstructions, &bi) == nil && bi.Text != "" {
		m.System = b.clip(bi.Text)
	} else if s := jsonText(p.BaseInstructions); s != "" {
		m.System = b.clip(s)
	}
}

// turnContext: a turn's settings (model, cwd, policies), written once a
// turn starts and again when they change.
func (b *Builder) turnContext(p *payload, ts time.Time) {
	t := b.openTurn(p.turnID(), ts)
	if t == nil {
		return
	}
	if p.Model != "" {
		t.Model = p.Model
	}
	if p.Cwd != "" {
		t.Cwd = p.Cwd
	}
	if s := policyType(p.ApprovalPolicy); s != "" {
		t.Approval = s
	}
	if s := policyType(p.SandboxPolicy); s != "" {
		t.Sandbox = s
	}
	effort := rawString(p.Effort)
	if effort == "" && p.CollaborationMode != nil && p.CollaborationMode.Settings != nil {
		effort = rawString(p.CollaborationMode.Settings.ReasoningEffort)
	}
	if effort != "" {
		t.Effort = effort
	}
}

// openTurn is the turn a record belongs to (its turn_id, else the latest
// turn) while it takes lines, touched by the record: an open turn, or a
// late one (see turn.Late) that the record names; nil otherwise.
func (b *Builder) openTurn(id string, ts time.Time) *turn {
	t := b.turn(id)
	switch {
	case t == nil:
		return nil
	case !t.Done:
		if ts.After(t.End) {
			t.End = ts
		}
	case !t.Late || id == "":
		return nil
	}
	t.SeenAt = b.st.Now
	return t
}

func (b *Builder) event(p *payload, ts time.Time) {
	switch p.Type {
	case "task_started":
		b.startTurn(p.TurnID, ts)
		if t := b.turn(p.TurnID); t != nil && b.st.Meta.Root != "" && t.RootTurn == "" && p.RootTurnID != p.TurnID {
			t.RootTurn = strings.Clone(p.RootTurnID)
		}
	case "task_complete":
		if t := b.openTurn(p.TurnID, ts); t != nil {
			if s := jsonText(p.LastAgentMessage); s != "" && !t.Done {
				t.Answer = b.clip(s)
			}
			if e := p.Error; e != nil && !t.Done {
				t.Status, t.ErrorType = genai.StatusError, strings.Clone(e.kind())
				t.StatusMsg = strings.Clone(prefix(e.Message, 512))
			}
			b.finishTurn(t, true, "")
		}
	case "turn_aborted":
		if t := b.openTurn(p.TurnID, ts); t != nil {
			reason := strings.Clone(prefix(rawString(p.Reason), 64))
			if reason == "" {
				reason = "aborted"
			}
			if !t.Done {
				t.Status, t.ErrorType, t.StatusMsg = genai.StatusError, reason, "turn aborted: "+reason
			}
			b.finishTurn(t, true, reason)
		}
	case "error":
		if t := b.openTurn(p.TurnID, ts); t != nil && !t.Done {
			t.Status, t.ErrorType = genai.StatusError, "error"
			t.StatusMsg = strings.Clone(prefix(jsonText(p.Message), 512))
		}
	case "user_message": // older versions: the prompt as an event
		if t := b.openTurn(p.TurnID, ts); t != nil && !t.Done {
			b.prompt(t, "event", []genai.Part{{Type: "text", Content: b.clip(jsonText(p.Message))}})
			b.input(t, ts)
		}
	case "item_completed":
		b.itemCompleted(p, ts)
	case "token_count":
		b.tokenCount(p, ts)
	}
}

// tokenCount: Codex's running total of the session's tokens, written after
// each model call (older versions at times twice in a row). A version that
// writes no token_usage_record tells a call's usage only this way: by how
// much the total grew since the previous token_count. A repeated line adds
// nothing, and the calls add up to Codex's own total. Once a
// token_usage_record was read, the totals only follow (the records said
// each call).
func (b *Builder) tokenCount(p *payload, ts time.Time) {
	if p.Info == nil || p.Info.Total == nil {
		return
	}
	total, prev := *p.Info.Total, b.st.Counted
	b.st.Counted = &total
	if b.st.Records {
		return
	}
	d := total
	switch {
	case prev == nil:
	case total.covers(*prev):
		d = total.minus(*prev)
	case p.Info.Last != nil:
		d = *p.Info.Last // the total started again (a new process)
	}
	if d.zero() {
		return
	}
	b.usageRecord(&payload{Usage: &d}, ts)
}

func (b *Builder) itemCompleted(p *payload, ts time.Time) {
	it := p.Item
	if it == nil {
		return
	}
	t := b.openTurn(p.TurnID, ts)
	if t == nil {
		return
	}
	switch it.Type {
	case "UserMessage":
		var parts []genai.Part
		for _, bl := range it.Content.Blocks {
			switch {
			case bl.Text != "":
				parts = append(parts, genai.Part{Type: "text", Content: b.clip(bl.Text)})
			case bl.Type != "" && bl.Type != "text":
				parts = append(parts, genai.Part{Type: "text", Content: "[" + bl.Type + "]"})
			}
		}
		if it.Content.Cut {
			b.st.Stats.TruncatedLines++
			parts = append(parts, genai.Part{Type: "text", Content: "[more content not kept]"})
		}
		b.prompt(t, "item", parts)
		b.input(t, ts)
	case "CollabAgentToolCall":
		b.collab(t, it, p)
	case "CommandExecution":
		tc := t.Tools[it.ID]
		if tc == nil {
			return
		}
		tc.Exec = true
		tc.ExitCode = it.ExitCode
		tc.Status = it.Status
		if p.StartedAtMS > 0 {
			tc.Start = time.UnixMilli(p.StartedAtMS).UTC()
			if it.Duration != nil {
				tc.End = tc.Start.Add(it.Duration.value())
			} else if p.CompletedAtMS >= p.StartedAtMS {
				tc.End = time.UnixMilli(p.CompletedAtMS).UTC()
			}
		}
	}
}

// collab notes what a multi_agent_v1 call did to other threads: the ones
// spawn_agent started become the turn's subagents, and so does each run a
// send_input started in a thread (see followUp); a state that is an object
// ({"completed": answer}, or another one-key object) ends a thread's
// latest run.
func (b *Builder) collab(t *turn, it *item, p *payload) {
	at := func(ms int64) time.Time {
		if ms <= 0 {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	}
	if it.Tool == "spawn_agent" && it.ID != "" {
		typ := ""
		if tc := t.Tools[it.ID]; tc != nil {
			typ = tc.AgentType
		}
		for _, id := range it.Receivers {
			if id == "" || t.agent(id) != nil || len(t.Agents) >= maxAgents {
				continue
			}
			a := &subagent{ID: strings.Clone(id), Call: strings.Clone(it.ID), Type: typ,
				Model: strings.Clone(prefix(it.Model, maxName)), Prompt: b.clip(it.Prompt), Start: at(p.StartedAtMS)}
			a.Nick = it.nickname(id)
			t.Agents = append(t.Agents, a)
		}
	}
	for id, raw := range it.States {
		a := t.agent(id)
		if a == nil || a.Call == it.ID || !a.End.IsZero() || len(raw) == 0 || raw[0] != '{' {
			continue // (a send_input's item tells the state before the run it starts)
		}
		var st map[string]json.RawMessage
		if json.Unmarshal(raw, &st) != nil || len(st) != 1 {
			continue
		}
		a.End = at(p.CompletedAtMS)
		for k, v := range st {
			if k == "completed" {
				a.Answer = b.clip(jsonText(v))
			} else {
				a.Error = strings.Clone(prefix(k, 64))
			}
		}
	}
	if it.Tool == "send_input" && it.ID != "" && len(it.Receivers) == 1 {
		if a := b.followUp(t, it.ID, it.Receivers[0]); a != nil {
			if it.Prompt != "" {
				a.Prompt = b.clip(it.Prompt)
			}
			if s := at(p.StartedAtMS); !s.IsZero() {
				a.Start = s
			}
			if n := it.nickname(a.ID); n != "" {
				a.Nick = n
			}
		}
	}
}

// followUp is the run of thread id that send_input call started, added to
// the turn's subagents when it is new. Codex records that run as a new turn
// of the thread, whose turn_id is the call's output's submission_id: the
// run is drawn once that is known (sendInputOutput), and the thread's
// builder puts that turn's spans under it (parentOf).
func (b *Builder) followUp(t *turn, call, id string) *subagent {
	if call == "" || id == "" {
		return nil
	}
	for _, a := range t.Agents {
		if a.Call == call && a.ID == id {
			return a
		}
	}
	if len(t.Agents) >= maxAgents {
		return nil
	}
	a := &subagent{ID: strings.Clone(id), Call: strings.Clone(call), FollowUp: true}
	if prev := t.agent(id); prev != nil {
		a.Type, a.Nick, a.Model = prev.Type, prev.Nick, prev.Model
	}
	t.Agents = append(t.Agents, a)
	return a
}

// sendInputOutput reads a send_input call's output, {"submission_id": the
// thread's new turn}, for the run it started (its arguments name the
// thread when no item did).
func (b *Builder) sendInputOutput(t *turn, tc *tool, output string) {
	var out struct {
		Submission string `json:"submission_id"`
	}
	if json.Unmarshal([]byte(output), &out) != nil || out.Submission == "" {
		return // failed: no run started
	}
	var args struct {
		Target  string `json:"target"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(tc.Args, &args)
	a := b.followUp(t, tc.ID, b.agentOfCall(t, tc.ID, args.Target))
	if a == nil {
		return
	}
	a.Turn = strings.Clone(prefix(out.Submission, maxName))
	if a.Start.IsZero() {
		a.Start = tc.At
	}
	if a.Prompt == "" && args.Message != "" {
		a.Prompt = b.clip(args.Message)
	}
}

// agentOfCall is the thread a call's item named, else target.
func (b *Builder) agentOfCall(t *turn, call, target string) string {
	for _, a := range t.Agents {
		if a.Call == call {
			return a.ID
		}
	}
	return target
}

func (it *item) nickname(id string) string {
	for _, ra := range it.Agents {
		if ra.ThreadID == id {
			return strings.Clone(prefix(ra.Nickname, maxName))
		}
	}
	return ""
}

// agent is thread id's latest run that the turn started.
func (t *turn) agent(id string) *subagent {
	for i := len(t.Agents) - 1; i >= 0; i-- {
		if t.Agents[i].ID == id {
			return t.Agents[i]
		}
	}
	return nil
}

// prompt adds a user message to the turn's prompt: the first one, and
// later ones from the same kind of record (input sent while the turn runs).
func (b *Builder) prompt(t *turn, src string, parts []genai.Part) {
	if len(parts) == 0 || t.PromptSrc != "" && t.PromptSrc != src {
		return
	}
	t.PromptSrc = src
	for _, p := range parts {
		if len(t.Prompt) >= maxPromptParts {
			b.st.Stats.TruncatedLines++
			return
		}
		t.Prompt = append(t.Prompt, p)
	}
}

// input marks what the model is sent next: the next call's request goes
// out no earlier than this.
func (b *Builder) input(t *turn, ts time.Time) {
	if t.Call.empty() && !ts.IsZero() {
		t.Call.Start = ts
	}
}

func (b *Builder) startTurn(id string, ts time.Time) {
	if id == "" {
		id = "turn-" + strconv.Itoa(b.st.Seq+1)
	}
	if b.turn(id) != nil {
		return // a repeated task_started
	}
	for _, o := range b.st.Turns {
		if !o.Done || o.Late {
			b.finishTurn(o, true, "") // no task_complete: the next turn started
		}
	}
	b.st.Seq++
	t := &turn{ID: id, Ordinal: b.st.Seq, Start: ts, End: ts, SeenAt: b.st.Now, Version: b.st.Meta.Version}
	if prev := b.turn(""); prev != nil {
		// Settings carry over until a turn_context says otherwise.
		t.Model, t.Cwd, t.Approval, t.Sandbox, t.Effort = prev.Model, prev.Cwd, prev.Approval, prev.Sandbox, prev.Effort
	}
	if hp := b.st.Prompt; hp != nil && hp.Turn == id {
		t.HookPrompt = hp.Text
	}
	b.st.Prompt = nil
	if c := b.st.Compact; c != nil {
		t.addCompaction(*c)
		b.st.Compact = nil
	}
	t.Call.Start = ts
	b.st.Turns = append(b.st.Turns, t)
	b.st.Cur = id
}

func (b *Builder) responseItem(p *payload, ts time.Time) {
	b.st.Items++
	t := b.openTurn(p.turnID(), ts)
	if t == nil {
		return
	}
	switch p.Type {
	case "message":
		if p.Role != "assistant" {
			return // the prompt comes from item_completed UserMessage
		}
		if text := p.Content.Text; text != "" {
			text = b.clip(text)
			t.Answer = text
			b.addPart(t, genai.Part{Type: "text", Content: text})
		}
	case "reasoning":
		text := p.Summary.Text
		if text == "" {
			text = p.Content.Text
		}
		if text != "" {
			b.addPart(t, genai.Part{Type: "reasoning", Content: b.clip(text)})
		}
	case "function_call", "custom_tool_call":
		args := toolArgs(p.Arguments)
		if p.Type == "custom_tool_call" {
			args = jsonString(b.clip(rawString(p.Input)))
		}
		if len(args) > maxText {
			args = jsonString(b.clip(string(args)))
		}
		id := p.CallID
		if id == "" {
			id = fmt.Sprintf("call-%d-%d", t.Calls, len(t.Call.Parts))
		}
		name := strings.Clone(prefix(p.Name, maxName))
		b.addPart(t, genai.Part{Type: "tool_call", ID: id, Name: name, Arguments: args})
		if t.Tools[id] != nil {
			return
		}
		if len(t.Tools) >= maxTools {
			b.st.Stats.TruncatedLines++
			return
		}
		if t.Tools == nil {
			t.Tools = map[string]*tool{}
		}
		tc := &tool{ID: id, Name: name, Args: args, At: ts}
		if name == "spawn_agent" {
			var a struct {
				Type string `json:"agent_type"`
			}
			if json.Unmarshal(args, &a) == nil {
				tc.AgentType = strings.Clone(prefix(a.Type, maxName))
			}
		}
		t.Tools[id] = tc
		t.Order = append(t.Order, id)
	case "function_call_output", "custom_tool_call_output":
		b.input(t, ts)
		tc := t.Tools[p.CallID]
		if tc == nil {
			return
		}
		if strings.HasSuffix(p.Output.Text, "aborted by user") {
			// Interrupted: the span goes out with the turn (finishTurn).
			tc.Interrupted, tc.Result = true, b.clip(p.Output.Text)
			return
		}
		if tc.Name == "send_input" {
			b.sendInputOutput(t, tc, p.Output.Text)
		}
		b.emit(b.toolSpan(t, tc, b.clip(p.Output.Text), ts))
		b.dropTool(t, tc.ID)
	}
}

// toolArgs is a function_call's arguments (a JSON document in a string)
// as JSON: the document when it is valid, else the text as a JSON string.
func toolArgs(raw json.RawMessage) json.RawMessage {
	s := jsonText(raw)
	if s == "" {
		var buf bytes.Buffer
		if len(raw) > 0 && raw[0] == '{' && json.Compact(&buf, raw) == nil {
			return buf.Bytes()
		}
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(s)) == nil {
		// Compact: the state encoding compacts raw JSON, and a restored
		// builder must build the same bytes.
		return buf.Bytes()
	}
	return jsonString(s)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func (b *Builder) dropTool(t *turn, id string) {
	delete(t.Tools, id)
	for i, o := range t.Order {
		if o == id {
			t.Order = append(t.Order[:i], t.Order[i+1:]...)
			break
		}
	}
	if len(t.Tools) == 0 {
		t.Tools, t.Order = nil, nil
	}
}

// addPart adds an output item to the model call in progress, within the
// call's bounds.
func (b *Builder) addPart(t *turn, p genai.Part) {
	n := len(p.Content) + len(p.Arguments)
	if len(t.Call.Parts) >= maxParts || t.Call.Bytes+n > maxCallBytes {
		t.Call.Dropped++
		b.st.Stats.TruncatedLines++
		return
	}
	t.Call.Parts = append(t.Call.Parts, p)
	t.Call.Bytes += n
}

// usageRecord is one model call done: its chat span, with the output items
// since the previous one.
func (b *Builder) usageRecord(p *payload, ts time.Time) {
	id := p.TurnID
	t := b.turn(id)
	if id == "" && t != nil {
		id = t.ID
	}
	if id == "" {
		id = "session"
	}
	var c call
	model := ""
	if t != nil {
		model = t.Model
		if o := b.openTurn(p.TurnID, ts); o == t {
			c = t.Call
			t.Call = call{Start: ts}
		}
		t.Calls++
	}
	key := p.ResponseID
	if key == "" {
		key = "call-" + strconv.FormatInt(ts.UnixNano(), 10)
	}
	if t == nil {
		t = &turn{ID: id} // a turn not known (any more): its trace all the same
	}
	b.emit(b.chatSpan(t, key, model, &c, p.Usage, ts))
}

// finishTurn ends a turn and sends its span. complete: its task_complete
// (or turn_aborted, or the next turn's start) says it is over, so output
// items without their usage record become a chat span and tool calls
// without output are closed (cancelled when the turn was aborted). Else (a
// timeout) the turn is late: those wait for lines that name the turn, until
// it completes or stays quiet for IdleTimeout. A late turn completing
// sends only what was waiting.
func (b *Builder) finishTurn(t *turn, complete bool, aborted string) {
	if t.Done && (!t.Late || !complete) {
		return
	}
	if !t.Done {
		t.Done, t.StopAt = true, time.Time{}
		if !b.nested(t) { // a subagent's turn: the spawning turn draws it
			b.emit(b.turnSpan(t))
		}
		t.Prompt, t.HookPrompt, t.Answer, t.StatusMsg, t.Compactions = nil, "", "", "", nil
	}
	t.Late = !complete
	if !complete {
		return
	}
	if !t.Call.empty() {
		key := fmt.Sprintf("call-%d", t.Calls+1)
		t.Calls++
		c := t.Call
		b.emit(b.chatSpan(t, key, t.Model, &c, nil, t.End))
	}
	t.Call = call{}
	for _, id := range t.Order {
		tc := t.Tools[id]
		s := b.toolSpan(t, tc, tc.Result, t.End)
		switch {
		case tc.Interrupted:
			s.Status, s.StatusMessage = genai.StatusError, "aborted by user"
			s.Attrs = setErrorType(s.Attrs, "interrupted")
		case aborted != "":
			s.Status, s.StatusMessage = genai.StatusError, "cancelled: the turn was "+aborted
			s.Attrs = setErrorType(s.Attrs, "cancelled")
		}
		b.emit(s)
	}
	t.Tools, t.Order = nil, nil
	for _, a := range t.Agents {
		if !a.FollowUp || a.Turn != "" { // a send_input without a run: nothing to draw
			b.emit(b.agentSpan(t, a))
		}
	}
	t.Agents = nil
	b.prune()
}

// clip caps a text kept in the state at maxText bytes, with a marker.
func (b *Builder) clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	b.st.Stats.TruncatedLines++
	// (The concatenation copies: the kept text holds no part of the line's.)
	return prefix(s, maxText) + fmt.Sprintf(" [%d bytes not kept]", len(s)-maxText)
}

// prefix is s cut to at most n bytes, on a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
