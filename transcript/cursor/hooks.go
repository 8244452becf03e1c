package cursor

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// opensTurn lists the events that may start a turn when none is open for
// their generation. stop, sessionStart and sessionEnd never do: a stray
// or duplicated one must not create an empty turn.
var opensTurn = map[string]bool{
	"beforeSubmitPrompt": true, "postToolUse": true, "postToolUseFailure": true,
	"afterShellExecution": true, "afterMCPExecution": true, "afterFileEdit": true,
	"afterAgentResponse": true, "afterAgentThought": true, "subagentStart": true,
	"subagentStop": true, "preCompact": true, "preToolUse": true,
}

func (b *Builder) hook(name string, p payload, at time.Time) {
	b.session(p)
	switch name {
	case "sessionStart":
		b.sessionStart(p, at)
		return
	case "sessionEnd":
		b.sessionEnd(p, at)
		return
	case "stop":
		b.stop(p, at)
		return
	case "workspaceOpen", "beforeTabFileRead", "afterTabFileEdit":
		return
	}
	if !opensTurn[name] {
		// Permission events (beforeShellExecution, beforeMCPExecution,
		// beforeReadFile) and unknown ones: they only keep the turn alive.
		if t := b.route(p.str("generation_id"), at, false); t != nil {
			b.touch(t, at)
		}
		return
	}
	// When the event's activity began: a tool call or subagent that ran
	// across the end of a turn still belongs to it.
	start := at
	if d, ok := duration(p); ok && d > 0 && (strings.HasPrefix(name, "post") || strings.HasPrefix(name, "after") || name == "subagentStop") {
		start = at.Add(-ms(d))
	}
	if name == "beforeSubmitPrompt" {
		b.prompt(p, at)
		return
	}
	t := b.route(p.str("generation_id"), start, true)
	if t == nil {
		return
	}
	b.touch(t, at)
	b.model(t, p)
	switch name {
	case "postToolUse", "postToolUseFailure":
		b.toolEvent(t, name, p, at)
	case "afterShellExecution":
		b.shellEvent(t, p, at)
	case "afterMCPExecution":
		b.mcpEvent(t, p, at)
	case "afterFileEdit":
		b.fileEdit(t, p, at)
	case "afterAgentResponse", "afterAgentThought":
		b.agentText(t, name, p, at)
	case "subagentStart":
		b.subagentStart(t, p, at)
	case "subagentStop":
		b.subagentStop(t, p, at)
	case "preCompact":
		b.preCompact(t, p, at)
	}
}

func ms(d float64) time.Duration {
	if d <= 0 || d > float64(365*24*time.Hour/time.Millisecond) {
		return 0
	}
	return time.Duration(d * float64(time.Millisecond))
}

// session records what every payload says about the session.
func (b *Builder) session(p payload) {
	s := &b.st.Sess
	if tp := p.str("transcript_path"); tp != "" && !b.st.MainHook {
		tp = filepath.Clean(tp)
		if b.st.Main == "" || !b.st.MainRead {
			b.st.Main = tp
		}
		b.st.MainHook = true
	}
	if v := p.str("cursor_version"); v != "" {
		s.Version = v
	}
	if r := p.strs("workspace_roots"); len(r) > 0 && !equalStrings(r, s.Roots) {
		s.Roots = r
		if b.st.Main == "" {
			b.discover(false)
		}
	}
	if m := p.str("composer_mode"); m != "" {
		s.ComposerMode = m
	}
	if v, ok := p.boolean("is_background_agent"); ok {
		s.Background = &v
	}
	if e := p.str("user_email"); e != "" {
		s.Email = e
	}
}

// cur returns the open (not finished) turn, if any.
func (b *Builder) cur() *turn {
	for i := len(b.st.Turns) - 1; i >= 0; i-- {
		if t := b.st.Turns[i]; !t.Done {
			return t
		}
	}
	return nil
}

func (b *Builder) headless(gen string) bool { return gen == "" || gen == b.conv }

// route finds the turn an event of generation gen belongs to; with open it
// starts one when there is none. at is when the event's activity began.
func (b *Builder) route(gen string, at time.Time, open bool) *turn {
	if !b.headless(gen) {
		for i := len(b.st.Turns) - 1; i >= 0; i-- {
			if t := b.st.Turns[i]; t.Gen == gen {
				return t
			}
		}
		if !open {
			return nil
		}
		if c := b.cur(); c != nil {
			b.finish(c, "next_generation", time.Time{})
		}
		return b.openTurn(gen, at)
	}
	if c := b.cur(); c != nil {
		return c
	}
	// No open turn: an event that happened before the latest turn ended
	// (hook processes race) still belongs to it.
	if n := len(b.st.Turns); n > 0 {
		last := b.st.Turns[n-1]
		if last.Headless && !at.IsZero() && !at.After(last.End) {
			return last
		}
	}
	if !open {
		return nil
	}
	return b.openTurn(gen, at)
}

func (b *Builder) openTurn(gen string, at time.Time) *turn {
	b.st.Seq++
	t := &turn{Gen: gen, Ordinal: b.st.Seq, Start: at, LastEvent: at, SeenAt: b.st.Now, Tx: -1,
		Version: b.st.Sess.Version}
	if gen == "" {
		t.Gen = b.conv
	}
	t.Headless = b.headless(gen)
	t.Key = t.Gen
	if t.Headless {
		t.Key = t.Gen + "#" + strconv.Itoa(t.Ordinal)
	}
	s := &b.st.Sess
	if s.StartPending && t.Headless && !s.StartAt.IsZero() && !s.StartAt.After(at) {
		// A headless run: the prompt went in when the session started.
		t.Start = s.StartAt
		s.StartPending = false
		ev := spanEvent{Name: "cursor.session_start", Time: s.StartAt}
		if s.ComposerMode != "" {
			ev.Attrs = append(ev.Attrs, kvS("cursor.composer_mode", s.ComposerMode))
		}
		if s.Background != nil {
			ev.Attrs = append(ev.Attrs, kvB("cursor.is_background_agent", *s.Background))
		}
		t.Events = append(t.Events, ev)
	}
	b.st.Turns = append(b.st.Turns, t)
	return t
}

func (b *Builder) touch(t *turn, at time.Time) {
	if at.After(t.LastEvent) {
		t.LastEvent = at
	}
	if !t.Close {
		t.SeenAt = b.st.Now
	}
	if v := b.st.Sess.Version; v != "" && t.Version == "" {
		t.Version = v
	}
}

// model records the turn's model: model_id when Cursor sends it, else the
// legacy model slug.
func (b *Builder) model(t *turn, p payload) {
	if m := p.str("model"); m != "" && (t.Model == "" || t.Model == "default") {
		t.Model = m
	}
	if m := p.str("model_id"); m != "" && t.ModelID == "" {
		t.ModelID = m
	}
	if mp := p.modelParams(); len(mp) > 0 && len(t.Params) == 0 {
		t.Params = mp
	}
}

func (b *Builder) addEvent(t *turn, ev spanEvent) {
	if len(t.Events) >= maxEvents {
		t.DropEvs++
		return
	}
	t.Events = append(t.Events, ev)
}

func (b *Builder) prompt(p payload, at time.Time) {
	gen := p.str("generation_id")
	text := capText(p.str("prompt"))
	var t *turn
	if !b.headless(gen) {
		t = b.route(gen, at, true)
	} else if c := b.cur(); c != nil && c.Prompt != "" && c.Prompt == text && absDur(at.Sub(c.PromptAt)) <= dupWindow {
		b.st.Dups++ // the same prompt twice (a native and an imported hook)
		return
	} else if c != nil && c.Prompt == "" && len(c.Tools) == 0 && len(c.Afters) == 0 && len(c.Parts) == 0 {
		// A turn opened moments ago by sessionStart-less events of the
		// same run: the prompt is its own.
		t = c
	} else {
		if c != nil {
			b.finish(c, "next_generation", time.Time{})
		}
		// A prompt typed into a running session: the turn starts with
		// the prompt, not with the session.
		b.st.Sess.StartPending = false
		t = b.openTurn(gen, at)
	}
	if t.Close {
		return
	}
	b.touch(t, at)
	b.model(t, p)
	if t.Prompt == "" {
		t.Prompt = text
		t.PromptAt = at
		t.Attachments = p.attachments()
		if at.Before(t.Start) || t.Start.IsZero() {
			t.Start = at
		}
	}
}

func (b *Builder) stop(p payload, at time.Time) {
	gen := p.str("generation_id")
	var t *turn
	if b.headless(gen) {
		t = b.cur()
	} else {
		t = b.route(gen, at, false)
		if t == nil {
			// A generation we saw nothing of (its other hooks not
			// registered or lost): still a turn, the transcript may fill it.
			t = b.route(gen, at, true)
		}
	}
	if t == nil || t.Done {
		return
	}
	b.touch(t, at)
	b.model(t, p)
	status := p.str("status")
	t.StopStatus = status
	if n, ok := p.num("loop_count"); ok {
		t.LoopCount = int(n)
	}
	setStatus(t, status, p.str("error_message"))
	b.finish(t, "stop", at)
}

// setStatus applies a stop / final status: aborted and error turns get an
// error status (aborted as error.type "interrupted", as Claude Code turns).
func setStatus(t *turn, status, msg string) {
	if t.Status == genai.StatusError {
		return
	}
	switch strings.ToLower(status) {
	case "aborted", "cancelled", "canceled":
		t.Status, t.ErrorType, t.StatusMsg = genai.StatusError, "interrupted", "aborted"
	case "error", "failed":
		t.Status, t.ErrorType, t.StatusMsg = genai.StatusError, "error", prefix(msg, 256)
		if t.StatusMsg == "" {
			t.StatusMsg = "error"
		}
	}
}

func (b *Builder) sessionStart(p payload, at time.Time) {
	if s := &b.st.Sess; s.StartPending && absDur(at.Sub(s.StartAt)) <= dupWindow {
		b.st.Dups++ // the same start twice (a native and an imported hook)
		return
	}
	if c := b.cur(); c != nil {
		b.finish(c, "new_session", time.Time{})
	}
	s := &b.st.Sess
	s.StartAt = at
	s.StartGen = p.str("generation_id")
	s.StartPending = b.headless(s.StartGen)
}

func (b *Builder) sessionEnd(p payload, at time.Time) {
	b.st.Sess.StartPending = false
	t := b.cur()
	if t == nil {
		// The turn already finished (stop); its span may still wait for
		// the transcript and can take the session end.
		if n := len(b.st.Turns); n > 0 && !b.st.Turns[n-1].Close {
			t = b.st.Turns[n-1]
		}
	}
	if t == nil || t.SessionDone {
		return
	}
	t.SessionDone = true
	ev := spanEvent{Name: "cursor.session_end", Time: at}
	if r := p.str("reason"); r != "" {
		ev.Attrs = append(ev.Attrs, kvS("cursor.session.end_reason", r))
	}
	if f := p.str("final_status"); f != "" {
		ev.Attrs = append(ev.Attrs, kvS("cursor.session.final_status", f))
	}
	if d, ok := p.num("duration_ms"); ok {
		ev.Attrs = append(ev.Attrs, kvF("cursor.session.duration_ms", d))
	}
	if m := p.str("error_message"); m != "" {
		ev.Attrs = append(ev.Attrs, kvS("error.message", prefix(m, 1024)))
	}
	b.addEvent(t, ev)
	if t.Done {
		return
	}
	b.touch(t, at)
	if t.StopStatus == "" {
		st := p.str("final_status")
		if st == "" {
			st = p.str("reason")
		}
		setStatus(t, st, p.str("error_message"))
	}
	b.finish(t, "session_end", at)
}

// finish ends a turn; its span goes out once the transcript caught up (or
// TranscriptWait passed). end zero means "at its latest event".
func (b *Builder) finish(t *turn, reason string, end time.Time) {
	if t.Done {
		return
	}
	t.Done = true
	t.EndReason = reason
	if end.IsZero() || end.Before(t.LastEvent) {
		end = t.LastEvent
	}
	t.End = end
	t.DoneSeen = time.Time{} // the wait starts at the next Tick
}

// tryEmit (from Tick) sends a finished turn's span: settleQuiet after the
// first tick that saw it finished when its transcript turn ended or the
// hooks told everything, else TranscriptWait after it.
func (b *Builder) tryEmit(t *turn) {
	if t.Close || !t.Done || t.DoneSeen.IsZero() {
		return
	}
	b.align()
	wait := b.opts.TranscriptWait
	if b.satisfied(t) {
		wait = min(wait, settleQuiet)
	}
	if b.st.Now.Sub(t.DoneSeen) < wait {
		return
	}
	b.emitTurn(t)
}

func (b *Builder) satisfied(t *turn) bool {
	if b.st.Main == "" || b.opts.DropContent {
		return true
	}
	if tx := b.txFor(t); tx != nil && tx.Ended {
		return true
	}
	return t.Prompt != "" && hasText(t.Parts) && t.StopStatus != ""
}

func hasText(parts []genai.Part) bool {
	for _, p := range parts {
		if p.Type == "text" && p.Content != "" {
			return true
		}
	}
	return false
}

func (b *Builder) agentText(t *turn, name string, p payload, at time.Time) {
	text := p.str("text")
	ev := spanEvent{Name: "cursor.agent_response", Time: at}
	typ := "text"
	if name == "afterAgentThought" {
		ev.Name = "cursor.agent_thought"
		typ = "reasoning"
		if d, ok := p.num("duration_ms"); ok {
			ev.Attrs = append(ev.Attrs, kvF("cursor.thought.duration_ms", d))
		}
	}
	b.addEvent(t, ev)
	if t.Close || strings.TrimSpace(text) == "" {
		if t.Close {
			b.log.Debug("cursor builder: agent text after its turn was sent; dropped", "turn", t.Key)
		}
		return
	}
	if t.PartBytes+len(text) > maxTurnText {
		return
	}
	text = capText(text)
	t.PartBytes += len(text)
	t.Parts = append(t.Parts, genai.Part{Type: typ, Content: text})
}

func (b *Builder) preCompact(t *turn, p payload, at time.Time) {
	ev := spanEvent{Name: "cursor.compaction", Time: at}
	if s := p.str("trigger"); s != "" {
		ev.Attrs = append(ev.Attrs, kvS("cursor.compaction.trigger", s))
	}
	for _, k := range []string{"context_usage_percent", "context_tokens", "context_window_size", "message_count", "messages_to_compact"} {
		if v, ok := p.num(k); ok {
			if k == "context_usage_percent" {
				ev.Attrs = append(ev.Attrs, kvF("cursor.compaction."+k, v))
			} else {
				ev.Attrs = append(ev.Attrs, kvI("cursor.compaction."+k, int64(v)))
			}
		}
	}
	if v, ok := p.boolean("is_first_compaction"); ok {
		ev.Attrs = append(ev.Attrs, kvB("cursor.compaction.is_first_compaction", v))
	}
	for _, e := range t.Events {
		if e.Name == ev.Name && absDur(e.Time.Sub(at)) <= dupWindow && sameKVs(e.Attrs, ev.Attrs) {
			b.st.Dups++ // reported twice (a native and an imported hook)
			return
		}
	}
	t.Compactions++
	b.addEvent(t, ev)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func sameKVs(a, b []kvRecord) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func (b *Builder) fileEdit(t *turn, p payload, at time.Time) {
	ev := spanEvent{Name: "cursor.file_edit", Time: at}
	if fp := p.str("file_path"); fp != "" {
		ev.Attrs = append(ev.Attrs, kvS("code.file.path", fp))
	}
	if raw := p.raw("edits"); len(raw) > 0 && raw[0] == '[' {
		var edits []any
		if jsonUnmarshal(raw, &edits) {
			ev.Attrs = append(ev.Attrs, kvI("cursor.file_edit.count", int64(len(edits))))
			if c := compactJSON(raw); len(c) > 0 && len(c) <= maxEditBytes {
				ev.Attrs = append(ev.Attrs, kvS("cursor.file_edit.edits", string(c)))
			}
		}
	}
	b.addEvent(t, ev)
}

// maxEditBytes caps the edits kept on a file-edit event; larger ones keep
// only their count (the Write/StrReplace tool span has the content).
const maxEditBytes = 64 << 10

func capText(s string) string {
	if len(s) <= maxText {
		return s
	}
	return prefixBytes(s, maxText) + "…[truncated]"
}

// prefix returns at most n runes of s, whitespace collapsed.
func prefix(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func prefixBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func kvS(k, v string) kvRecord { return kvRecord{K: k, S: &v} }
func kvI(k string, v int64) kvRecord {
	return kvRecord{K: k, I: &v}
}
func kvF(k string, v float64) kvRecord { return kvRecord{K: k, F: &v} }
func kvB(k string, v bool) kvRecord    { return kvRecord{K: k, B: &v} }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
