package cursor

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxToolRefs bounds the tool spans a turn remembers; maxRefArgs the input
// kept with a Task or MCP tool for matching.
const (
	maxToolRefs = 1024
	maxRefArgs  = 8 << 10
)

// toolCall is a tool span about to be built.
type toolCall struct {
	CallID  string
	Name    string
	Args    json.RawMessage
	Result  string
	Start   time.Time
	End     time.Time
	Failed  bool
	ErrType string
	ErrMsg  string
	Sandbox *bool
	Cwd     string
	Source  string // hook event that produced it
}

func jsonUnmarshal(raw []byte, v any) bool { return json.Unmarshal(raw, v) == nil }

// argString returns a top-level string field of a JSON object.
func argString(args json.RawMessage, k string) string {
	if len(args) == 0 || args[0] != '{' {
		return ""
	}
	var m map[string]json.RawMessage
	if !jsonUnmarshal(args, &m) {
		return ""
	}
	var s string
	if raw, ok := m[k]; ok && jsonUnmarshal(raw, &s) {
		return s
	}
	return ""
}

func isMCP(name string) bool {
	l := strings.ToLower(name)
	return strings.HasPrefix(l, "mcp:") || strings.HasPrefix(l, "mcp__") || strings.HasPrefix(l, "mcp_")
}

func isTask(name string) bool {
	switch strings.ToLower(name) {
	case "task", "subagent", "agent":
		return true
	}
	return false
}

// mcpName strips the MCP: prefix Cursor uses for MCP tools.
func mcpName(name string) string {
	if len(name) >= 4 && strings.EqualFold(name[:4], "mcp:") {
		return name[4:]
	}
	return name
}

func sameMCP(toolName, mcp string) bool {
	a, b := mcpName(toolName), mcpName(mcp)
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.HasSuffix(a, "_"+b) || strings.HasSuffix(a, ":"+b) || strings.HasSuffix(a, "-"+b)
}

// durClose reports whether two reported durations are the same command's
// (Cursor reports the very same value on both events of one command).
func durClose(a float64, ha bool, b float64, hb bool) bool {
	if !ha || !hb {
		return true
	}
	return math.Abs(a-b) <= 1
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	var x, y any
	if !jsonUnmarshal(a, &x) || !jsonUnmarshal(b, &y) {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func (b *Builder) childTimes(t *turn, start, end time.Time) {
	if !start.IsZero() && (t.ChildMin.IsZero() || start.Before(t.ChildMin)) {
		t.ChildMin = start
	}
	if end.After(t.ChildMax) {
		t.ChildMax = end
	}
}

func duration(p payload) (float64, bool) {
	if d, ok := p.num("duration"); ok && d >= 0 {
		return d, true
	}
	if d, ok := p.num("duration_ms"); ok && d >= 0 {
		return d, true
	}
	return 0, false
}

// toolEvent handles postToolUse and postToolUseFailure: one tool span, sent
// at once (its trace and parent are known).
func (b *Builder) toolEvent(t *turn, name string, p payload, at time.Time) {
	id := p.str("tool_use_id")
	if id == "" {
		id = p.str("tool_call_id")
	}
	for _, r := range t.Tools {
		if id != "" && r.ID == id {
			b.st.Dups++ // the same call reported twice
			return
		}
	}
	dur, hasDur := duration(p)
	tc := toolCall{CallID: id, Name: p.str("tool_name"), Args: jsonArg(p.raw("tool_input")), End: at,
		Start: at.Add(-ms(dur)), Cwd: p.str("cwd"), Source: name}
	if name == "postToolUseFailure" {
		tc.Failed = true
		tc.ErrMsg = p.str("error_message")
		if tc.ErrMsg == "" {
			tc.ErrMsg = p.textOf("error")
		}
		tc.Result = capText(tc.ErrMsg)
		tc.ErrType = p.str("failure_type")
		if tc.ErrType == "" {
			tc.ErrType = "tool_error"
		}
		if v, _ := p.boolean("is_interrupt"); v {
			tc.ErrType = "interrupted"
		}
	} else {
		tc.Result = p.textOf("tool_output")
		if tc.Result == "" {
			tc.Result = p.textOf("tool_response")
		}
		tc.Result = capText(tc.Result)
	}
	cmd := ""
	if !isMCP(tc.Name) {
		cmd = argString(tc.Args, "command")
	}
	ref := &toolRef{Name: tc.Name, Command: cmd, Dur: dur, HasDur: hasDur, End: at}
	if a := b.matchAfter(t, tc.Name, cmd, tc.Args, dur, hasDur); a != nil {
		a.Matched = true
		ref.Matched = true
		b.st.Dups++
		if a.Emitted {
			return // the after* event already went out as this call's span
		}
		if tc.Result == "" {
			tc.Result = a.Result
		}
		tc.Sandbox = a.Sandbox
	}
	key := id
	if key == "" {
		t.NTool++
		key = name + "#" + strconv.Itoa(t.NTool)
	}
	ref.ID = key
	if (isTask(tc.Name) || isMCP(tc.Name)) && len(tc.Args) <= maxRefArgs {
		ref.Args = tc.Args
	}
	t.Tools = append(t.Tools, ref)
	if n := len(t.Tools); n > maxToolRefs {
		t.Tools = append([]*toolRef(nil), t.Tools[n-maxToolRefs:]...)
	}
	b.childTimes(t, tc.Start, tc.End)
	b.emit(b.toolSpan(t, &tc, key))
	if isTask(tc.Name) {
		b.linkSubagents(t, false)
	}
}

// matchAfter finds the afterShellExecution / afterMCPExecution event of the
// same command, not yet matched.
func (b *Builder) matchAfter(t *turn, name, cmd string, args json.RawMessage, dur float64, hasDur bool) *after {
	for _, a := range t.Afters {
		if a.Matched {
			continue
		}
		switch a.Kind {
		case "shell":
			if cmd != "" && a.Command == cmd && durClose(a.Dur, a.HasDur, dur, hasDur) {
				return a
			}
		case "mcp":
			if sameMCP(name, a.Name) && (durClose(a.Dur, a.HasDur, dur, hasDur) || jsonEqual(args, a.Args)) {
				return a
			}
		}
	}
	return nil
}

// shellEvent handles afterShellExecution: folded into the Shell tool span of
// the same command when there is one, else kept until the turn ends.
func (b *Builder) shellEvent(t *turn, p payload, at time.Time) {
	cmd := p.str("command")
	dur, hasDur := duration(p)
	for _, r := range t.Tools {
		if !r.Matched && cmd != "" && r.Command == cmd && durClose(r.Dur, r.HasDur, dur, hasDur) {
			r.Matched = true
			b.st.Dups++
			return
		}
	}
	if b.replayedAfter(t, "shell", cmd, nil, dur, hasDur) {
		return
	}
	t.NAfter++
	args, _ := json.Marshal(map[string]string{"command": cmd})
	a := &after{Kind: "shell", Key: "afterShellExecution#" + strconv.Itoa(t.NAfter), Name: "Shell", Command: cmd,
		Args: args, Result: capText(p.str("output")), Dur: dur, HasDur: hasDur, At: at}
	if v, ok := p.boolean("sandbox"); ok {
		a.Sandbox = &v
	}
	t.Afters = append(t.Afters, a)
	if t.Close {
		b.emitAfter(t, a)
	}
}

// mcpEvent handles afterMCPExecution (tool_input and result_json are JSON
// strings), like shellEvent.
func (b *Builder) mcpEvent(t *turn, p payload, at time.Time) {
	name := p.str("tool_name")
	args := jsonArg(p.raw("tool_input"))
	dur, hasDur := duration(p)
	for _, r := range t.Tools {
		if !r.Matched && sameMCP(r.Name, name) && (durClose(r.Dur, r.HasDur, dur, hasDur) || jsonEqual(r.Args, args)) {
			r.Matched = true
			b.st.Dups++
			return
		}
	}
	if b.replayedAfter(t, "mcp", name, args, dur, hasDur) {
		return
	}
	t.NAfter++
	full := name
	if !isMCP(full) {
		full = "MCP:" + name
	}
	a := &after{Kind: "mcp", Key: "afterMCPExecution#" + strconv.Itoa(t.NAfter), Name: full, Args: args,
		Result: capText(p.textOf("result_json")), Dur: dur, HasDur: hasDur, At: at}
	t.Afters = append(t.Afters, a)
	if t.Close {
		b.emitAfter(t, a)
	}
}

// replayedAfter reports whether an after* event repeats one already handled
// (a redelivery with a new event id): same command (or MCP tool and input)
// and the very same reported duration.
func (b *Builder) replayedAfter(t *turn, kind, what string, args json.RawMessage, dur float64, hasDur bool) bool {
	if !hasDur || what == "" {
		return false
	}
	same := func(name, cmd string, a json.RawMessage, d float64, hd bool) bool {
		if !hd || d != dur {
			return false
		}
		if kind == "shell" {
			return cmd == what
		}
		return sameMCP(name, what) && (len(args) == 0 && len(a) == 0 || jsonEqual(a, args))
	}
	for _, a := range t.Afters {
		if a.Kind == kind && same(a.Name, a.Command, a.Args, a.Dur, a.HasDur) {
			b.st.Dups++
			return true
		}
	}
	for _, r := range t.Tools {
		if r.Matched && same(r.Name, r.Command, r.Args, r.Dur, r.HasDur) && (kind == "shell") == (r.Command != "") {
			b.st.Dups++
			return true
		}
	}
	return false
}

// emitAfter sends an after* event no tool event covered as its own span.
func (b *Builder) emitAfter(t *turn, a *after) {
	if a.Matched || a.Emitted {
		return
	}
	a.Emitted = true
	tc := toolCall{Name: a.Name, Args: a.Args, Result: a.Result, End: a.At, Start: a.At.Add(-ms(a.Dur)),
		Sandbox: a.Sandbox, Source: "afterShellExecution"}
	if a.Kind == "mcp" {
		tc.Source = "afterMCPExecution"
	}
	if a.Kind == "shell" {
		// The transcript's Shell call has the description and directory.
		if tx := b.txFor(t); tx != nil {
			for _, c := range tx.Tools {
				if c.Name == "Shell" && argString(c.Input, "command") == a.Command && len(c.Input) > 0 {
					tc.Args = c.Input
					break
				}
			}
		}
	}
	b.childTimes(t, tc.Start, tc.End)
	b.emit(b.toolSpan(t, &tc, a.Key))
}

func (b *Builder) findSub(t *turn, id string) *subagent {
	if id == "" {
		return nil
	}
	for _, s := range t.Subs {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (b *Builder) newSub(t *turn, id string) *subagent {
	s := &subagent{ID: id, Key: id}
	if id == "" {
		t.NSub++
		s.Key = "subagent#" + strconv.Itoa(t.NSub)
	}
	t.Subs = append(t.Subs, s)
	return s
}

func (b *Builder) subagentStart(t *turn, p payload, at time.Time) {
	id := p.str("subagent_id")
	s := b.findSub(t, id)
	if s == nil {
		s = b.newSub(t, id)
	}
	s.Start = at
	fillSub(s, p)
	if m := p.str("subagent_model"); m != "" {
		s.Model = m
	}
}

func (b *Builder) subagentStop(t *turn, p payload, at time.Time) {
	id := p.str("subagent_id")
	s := b.findSub(t, id)
	if s == nil && id == "" {
		// No id: the one started subagent of this type and task.
		for _, c := range t.Subs {
			if !c.Stopped && c.Type == p.str("subagent_type") && (c.Task == "" || c.Task == p.str("task")) {
				s = c
				break
			}
		}
	}
	if s == nil && id == "" {
		// A redelivered stop of a subagent without id.
		for _, c := range t.Subs {
			if c.Stopped && c.ID == "" && c.Type == p.str("subagent_type") && c.Task == capText(p.str("task")) && c.Summary == capText(p.str("summary")) {
				b.st.Dups++
				return
			}
		}
	}
	if s == nil {
		s = b.newSub(t, id)
	}
	if s.Stopped {
		b.st.Dups++
		return
	}
	s.Stopped = true
	s.End = at
	if d, ok := p.num("duration_ms"); ok && d >= 0 && s.Start.IsZero() {
		s.Start = at.Add(-ms(d))
	}
	fillSub(s, p)
	s.Status = p.str("status")
	if v := p.str("summary"); v != "" {
		s.Summary = capText(v)
	}
	if v := p.str("description"); v != "" {
		s.Desc = v
	}
	if v := p.str("agent_transcript_path"); v != "" {
		s.Transcript = v
	}
	for _, k := range []string{"message_count", "tool_call_count", "loop_count"} {
		if v, ok := p.num(k); ok {
			if s.Counts == nil {
				s.Counts = map[string]int{}
			}
			s.Counts[k] = int(v)
		}
	}
	if m := p.strs("modified_files"); len(m) > 0 {
		s.Modified = m
	}
	b.childTimes(t, s.Start, s.End)
	b.linkSubagents(t, t.Close)
}

func fillSub(s *subagent, p payload) {
	if v := p.str("subagent_type"); v != "" {
		s.Type = v
	}
	if v := p.str("task"); v != "" {
		s.Task = capText(v)
	}
	if v := p.str("tool_call_id"); v != "" {
		s.ToolCallID = v
	}
	if v := p.str("subagent_model"); v != "" {
		s.Model = v
	}
	if v := p.str("git_branch"); v != "" {
		s.GitBranch = v
	}
	if v, ok := p.boolean("is_parallel_worker"); ok {
		s.Parallel = &v
	}
}

// linkSubagents hangs finished subagents under the Task tool span that
// started them and sends them: by tool_call_id, else by the task text in the
// Task tool's input, else (one candidate, or final) by time. With final the
// rest go under the turn.
func (b *Builder) linkSubagents(t *turn, final bool) {
	for _, s := range t.Subs {
		if s.Emitted || (!s.Stopped && !final) {
			continue
		}
		if s.Parent == "" {
			if r := b.taskFor(t, s, final); r != nil {
				r.Linked = true
				s.Parent = r.ID
			}
		}
		if s.Parent == "" && !final {
			continue
		}
		s.Emitted = true
		if !s.Stopped {
			s.End = t.End
			if s.Start.IsZero() || s.End.Before(s.Start) {
				s.End = s.Start
			}
		}
		b.emit(b.subagentSpan(t, s))
	}
}

func (b *Builder) taskFor(t *turn, s *subagent, final bool) *toolRef {
	var cands []*toolRef
	for _, r := range t.Tools {
		if !isTask(r.Name) || r.Linked {
			continue
		}
		if s.ToolCallID != "" && r.ID == s.ToolCallID {
			return r
		}
		cands = append(cands, r)
	}
	if s.ToolCallID != "" && !final {
		return nil // its Task tool span has not arrived yet
	}
	task, desc := norm(s.Task), norm(s.Desc)
	for _, r := range cands {
		for _, v := range stringValues(r.Args) {
			if n := norm(v); n != "" && (n == task || n == desc) {
				return r
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if len(cands) == 1 || final {
		// The Task call that ended closest after the subagent.
		best := cands[0]
		bestD := time.Duration(math.MaxInt64)
		for _, r := range cands {
			d := r.End.Sub(s.End)
			if d < 0 {
				d = -d
			}
			if d < bestD {
				best, bestD = r, d
			}
		}
		return best
	}
	return nil
}

func stringValues(args json.RawMessage) []string {
	if len(args) == 0 || args[0] != '{' {
		return nil
	}
	var m map[string]any
	if !jsonUnmarshal(args, &m) {
		return nil
	}
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }
