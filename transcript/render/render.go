// Package render prints one conversation — the spans a transcript builder
// made of it — as text for a terminal: turns in order, each with its prompt,
// the model's text, its tool calls with arguments and results (long ones
// folded to their first lines), errors, subagents indented under the tool
// call that started them, compactions, and per turn the tokens and duration.
//
// Colour (ANSI) is used only when Options.Color says so; the caller decides
// (a terminal, and NO_COLOR unset). Without it the output is plain text.
package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
)

// Options controls the output.
type Options struct {
	// Color turns on ANSI colours and bold/dim text.
	Color bool
	// Full prints every line of every prompt, answer, argument and result.
	Full bool
	// FoldLines is how many lines of a tool argument or result are kept
	// when folding (default 6). Prompts and answers are folded later
	// (eight times as many lines).
	FoldLines int
	// MaxLineRunes cuts longer lines when folding (default 240).
	MaxLineRunes int
	// Location for times (default time.Local).
	Location *time.Location
	// Source, when set, is shown in the header (the transcript path).
	Source string
	// Width of the turn rules (default 80).
	Width int
}

func (o *Options) defaults() {
	if o.FoldLines <= 0 {
		o.FoldLines = 6
	}
	if o.MaxLineRunes <= 0 {
		o.MaxLineRunes = 240
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Width <= 0 {
		o.Width = 80
	}
}

// node is a span with its children in the conversation tree.
type node struct {
	span     *genai.Span
	attrs    map[string]attribute.Value
	children []*node
}

func (n *node) str(key string) string {
	v, ok := n.attrs[key]
	if !ok {
		return ""
	}
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.String()
}

func (n *node) int(key string) (int64, bool) {
	v, ok := n.attrs[key]
	if !ok || v.Type() != attribute.INT64 {
		return 0, false
	}
	return v.AsInt64(), true
}

func (n *node) op() string { return n.str("gen_ai.operation.name") }

func (n *node) isError() bool { return n.span.Status == genai.StatusError }

func (n *node) dur() time.Duration { return n.span.End.Sub(n.span.Start) }

type spanKey struct {
	trace genai.TraceID
	span  genai.SpanID
}

// tree links spans to their parents. Roots are spans without a parent, or
// whose parent is not among the spans; they come in time order.
func tree(spans []genai.Span) []*node {
	nodes := make([]*node, len(spans))
	byID := make(map[spanKey]*node, len(spans))
	for i := range spans {
		s := &spans[i]
		n := &node{span: s, attrs: make(map[string]attribute.Value, len(s.Attrs))}
		for _, kv := range s.Attrs {
			n.attrs[string(kv.Key)] = kv.Value
		}
		nodes[i] = n
		k := spanKey{s.TraceID, s.SpanID}
		if _, dup := byID[k]; !dup {
			byID[k] = n
		}
	}
	var roots []*node
	for _, n := range nodes {
		if byID[spanKey{n.span.TraceID, n.span.SpanID}] != n {
			continue // the same span twice: keep the first
		}
		if p, ok := byID[spanKey{n.span.TraceID, n.span.ParentID}]; ok && !n.span.ParentID.IsZero() && p != n {
			p.children = append(p.children, n)
			continue
		}
		roots = append(roots, n)
	}
	byTime := func(ns []*node) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].span.Start.Before(ns[j].span.Start) })
	}
	byTime(roots)
	for _, n := range nodes {
		byTime(n.children)
	}
	return roots
}

// Conversation writes the conversation made of spans to w.
func Conversation(w io.Writer, spans []genai.Span, o Options) error {
	o.defaults()
	bw := bufio.NewWriter(w)
	p := &printer{w: bw, o: o, st: styles(o.Color)}
	roots := tree(spans)
	p.header(roots)
	turn := 0
	var prevDay string
	for _, r := range roots {
		if isTurn(r) {
			turn++
		}
		day := r.span.Start.In(o.Location).Format("2006-01-02")
		p.root(r, turn, day != prevDay)
		prevDay = day
	}
	if len(roots) == 0 {
		p.line(p.st.dim("(no turns: nothing in this transcript was traced)"))
	}
	return bw.Flush()
}

// isTurn: a conversation's turn is a root invoke_agent span that is not a
// subagent.
func isTurn(n *node) bool {
	return n.op() == "invoke_agent" && n.str("gen_ai.agent.id") == "" && n.span.ParentID.IsZero()
}

// printer writes lines with the current indentation prefix.
type printer struct {
	w      *bufio.Writer
	o      Options
	st     style
	prefix string // printed before every line (subagent bars)
	// lastError is the last model-call error printed, so that the turn's
	// status does not repeat it.
	lastError string
}

func (p *printer) line(s string) {
	p.w.WriteString(strings.TrimRight(p.prefix+s, " "))
	p.w.WriteByte('\n')
}

func (p *printer) blank() { p.line("") }

// totals over a set of spans.
type totals struct {
	turns, tools, toolErrors, subagents, chats int
	usage                                      usage
	hasUsage                                   bool
	start, end                                 time.Time
}

type usage struct{ in, out, cacheRead, cacheWrite int64 }

func (u usage) zero() bool { return u == usage{} }

func (t *totals) add(n *node) {
	s := n.span
	if t.start.IsZero() || s.Start.Before(t.start) {
		t.start = s.Start
	}
	if s.End.After(t.end) {
		t.end = s.End
	}
	switch n.op() {
	case "execute_tool":
		t.tools++
		if n.isError() {
			t.toolErrors++
		}
	case "chat":
		t.chats++
		if u, ok := chatUsage(n); ok {
			t.hasUsage = true
			t.usage.in += u.in
			t.usage.out += u.out
			t.usage.cacheRead += u.cacheRead
			t.usage.cacheWrite += u.cacheWrite
		}
	case "invoke_agent":
		if n.str("gen_ai.agent.id") != "" {
			t.subagents++
		} else if s.ParentID.IsZero() {
			t.turns++
		}
	}
	for _, c := range n.children {
		t.add(c)
	}
}

func chatUsage(n *node) (usage, bool) {
	in, ok1 := n.int("gen_ai.usage.input_tokens")
	out, ok2 := n.int("gen_ai.usage.output_tokens")
	if !ok1 && !ok2 {
		return usage{}, false
	}
	cr, _ := n.int("gen_ai.usage.cache_read.input_tokens")
	cw, _ := n.int("gen_ai.usage.cache_creation.input_tokens")
	return usage{in, out, cr, cw}, true
}

func (p *printer) header(roots []*node) {
	var t totals
	var first *node
	for _, r := range roots {
		t.add(r)
		if first == nil && isTurn(r) {
			first = r
		}
	}
	if first == nil && len(roots) > 0 {
		first = roots[0]
	}
	st := p.st
	title := "conversation"
	var session, agent, version, cwd, branch string
	if first != nil {
		session = first.str("gen_ai.conversation.id")
		agent = first.str("gen_ai.agent.name")
		version = attrOf(first.span.Resource, "service.version")
		cwd = firstNonEmpty(first.str("claude_code.cwd"), first.str("cursor.cwd"), first.str("codex.cwd"))
		branch = first.str("claude_code.git_branch")
	}
	if agent != "" {
		title = agent
		if version != "" {
			title += " " + version
		}
	}
	head := st.bold(title)
	if session != "" {
		head += st.dim(" · ") + "session " + st.bold(session)
	}
	p.line(head)
	label := func(k string) string { return st.dim(fmt.Sprintf("%-9s", k)) }
	if cwd != "" {
		v := cwd
		if branch != "" && branch != "HEAD" {
			v += st.dim(" (" + branch + ")")
		}
		p.line(label("project") + v)
	}
	if !t.start.IsZero() {
		v := t.start.In(p.o.Location).Format("2006-01-02 15:04:05 MST")
		if d := t.end.Sub(t.start); d > 0 {
			v += st.dim(" · ") + "lasted " + fmtDur(d)
		}
		p.line(label("started") + v)
	}
	counts := []string{plural(t.turns, "turn")}
	if t.chats > 0 { // Cursor records no model calls
		counts = append(counts, plural(t.chats, "model call"))
	}
	tc := plural(t.tools, "tool call")
	if t.toolErrors > 0 {
		tc += " (" + st.red(fmt.Sprintf("%d failed", t.toolErrors)) + ")"
	}
	counts = append(counts, tc)
	if t.subagents > 0 {
		counts = append(counts, plural(t.subagents, "subagent"))
	}
	p.line(label("activity") + strings.Join(counts, st.dim(" · ")))
	if t.hasUsage && !t.usage.zero() {
		p.line(label("tokens") + fmtUsage(st, t.usage))
	}
	if p.o.Source != "" {
		p.line(label("file") + st.dim(p.o.Source))
	}
}

func (p *printer) root(r *node, turn int, newDay bool) {
	st := p.st
	p.blank()
	when := r.span.Start.In(p.o.Location)
	ts := when.Format("15:04:05")
	if newDay {
		ts = when.Format("2006-01-02 15:04:05")
	}
	var title string
	switch {
	case isTurn(r):
		title = fmt.Sprintf("Turn %d", turn)
	case r.op() == "invoke_agent":
		title = "Subagent " + firstNonEmpty(r.str("gen_ai.agent.name"), "run") + " (not linked to a turn)"
	default:
		title = r.span.Name
	}
	parts := []string{title, ts}
	if d := r.dur(); d > 0 {
		parts = append(parts, fmtDur(d))
	}
	if m := r.str("gen_ai.request.model"); m != "" {
		parts = append(parts, m)
	}
	text := "── " + strings.Join(parts, " · ") + " "
	if n := p.o.Width - runeLen(text); n > 0 {
		text += strings.Repeat("─", n)
	}
	if r.isError() {
		p.line(st.red(text))
	} else {
		p.line(st.rule(text))
	}
	switch {
	case r.op() == "invoke_agent" && isTurn(r):
		p.turnBody(r)
	case r.op() == "invoke_agent":
		p.agentBody(r)
	default:
		p.item(r, nil)
	}
}

// turnBody prints a turn: prompt, then its children and events in time
// order, the answer when no model call carried it, the status and totals.
func (p *printer) turnBody(t *node) {
	p.prompt(t)
	printed := p.children(t)
	if !printed {
		p.answer(t)
	}
	p.status(t)
	p.footer(t)
}

// agentBody prints a subagent run (already under its header).
func (p *printer) agentBody(a *node) {
	p.prompt(a)
	if !p.children(a) {
		p.answer(a)
	}
	p.status(a)
}

func (p *printer) prompt(n *node) {
	msgs := messages(n.str("gen_ai.input.messages"))
	var texts []string
	for _, m := range msgs {
		for _, part := range m.Parts {
			switch part.Type {
			case "text":
				if strings.TrimSpace(part.Content) != "" {
					texts = append(texts, part.Content)
				}
			case "blob", "image":
				texts = append(texts, fmt.Sprintf("[%s, %s]", firstNonEmpty(part.MimeType, "attachment"), fmtBytes(len(part.Content)*3/4)))
			default:
				if part.Content != "" {
					texts = append(texts, part.Content)
				}
			}
		}
	}
	if len(texts) == 0 {
		return
	}
	text := strings.Join(texts, "\n")
	max := p.o.FoldLines * 8
	if n.str("gen_ai.agent.id") != "" {
		max = p.o.FoldLines * 2 // a subagent's task: the tool call above says what it is
	}
	if note, ok := taskNotification(text); ok {
		p.line(p.st.prompt("❯ ") + p.st.agent("⚑ "+note.head))
		if note.result != "" {
			p.block("  "+p.st.dim("⎿ "), "    ", note.result, p.o.FoldLines, nil)
		}
		if note.rest != "" {
			p.block("  ", "  ", note.rest, p.o.FoldLines, p.st.dim)
		}
		return
	}
	p.block(p.st.prompt("❯ "), "  ", promptText(text), max, p.st.promptText)
}

// answer prints a span's gen_ai.output.messages (text and reasoning).
func (p *printer) answer(n *node) {
	for _, m := range messages(n.str("gen_ai.output.messages")) {
		p.parts(m.Parts)
	}
}

// parts prints text and reasoning parts of a model's output.
func (p *printer) parts(parts []genai.Part) bool {
	printed := false
	for _, part := range parts {
		switch part.Type {
		case "reasoning", "thinking":
			if strings.TrimSpace(part.Content) == "" || strings.TrimSpace(part.Content) == "[REDACTED]" {
				continue
			}
			p.block(p.st.dim("✻ "), "  ", part.Content, p.o.FoldLines/2, p.st.thinking)
			printed = true
		case "text":
			if strings.TrimSpace(part.Content) == "" {
				continue
			}
			p.block("● ", "  ", part.Content, p.o.FoldLines*8, nil)
			printed = true
		}
	}
	return printed
}

// event is a span event placed in the timeline of its span's children.
type timelineItem struct {
	at    time.Time
	node  *node
	event *genai.Event
}

// children prints a turn's or subagent's children and events in time
// order; a model call is followed by the tool calls it asked for. It
// reports whether any model text was printed.
func (p *printer) children(n *node) bool {
	var items []timelineItem
	for _, c := range n.children {
		items = append(items, timelineItem{at: c.span.Start, node: c})
	}
	for i := range n.span.Events {
		ev := &n.span.Events[i]
		if isShownEvent(ev.Name) {
			items = append(items, timelineItem{at: ev.Time, event: ev})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	tools := map[string]*node{}
	for _, c := range n.children {
		if c.op() == "execute_tool" {
			if id := c.str("gen_ai.tool.call.id"); id != "" {
				tools[id] = c
			}
		}
	}
	done := map[*node]bool{}
	text := false
	for _, it := range items {
		if it.event != nil {
			p.event(it.event)
			continue
		}
		if done[it.node] {
			continue
		}
		done[it.node] = true
		if p.item(it.node, func(callID string) *node {
			t := tools[callID]
			if t == nil || done[t] {
				return nil
			}
			done[t] = true
			return t
		}) {
			text = true
		}
	}
	return text
}

func isShownEvent(name string) bool {
	return strings.HasSuffix(name, ".compaction") || strings.HasSuffix(name, ".api_error")
}

// item prints one child span. toolFor hands over the tool span of a
// tool_call part (nil when there is none, or it was printed already).
func (p *printer) item(n *node, toolFor func(string) *node) bool {
	switch n.op() {
	case "chat":
		return p.chat(n, toolFor)
	case "execute_tool":
		p.tool(n)
	case "invoke_agent":
		p.subagent(n)
	default:
		p.line(p.st.dim("· " + n.span.Name + " · " + fmtDur(n.dur())))
		for _, c := range n.children {
			p.item(c, nil)
		}
	}
	return false
}

// chat prints a model call's output in order: reasoning, text, and the tool
// calls it asked for (each with its result).
func (p *printer) chat(n *node, toolFor func(string) *node) bool {
	st := p.st
	if n.str("claude_code.compaction.call") == "true" {
		line := "⟳ summarising the conversation (compaction)"
		if u, ok := chatUsage(n); ok {
			line += " · " + fmtInt(u.in) + " in · " + fmtInt(u.out) + " out"
		}
		if d := n.dur(); d > 0 {
			line += " · " + fmtDur(d)
		}
		p.line(st.compaction(line))
		return false
	}
	printed := false
	if n.isError() {
		msg := firstNonEmpty(n.span.StatusMessage, n.str("error.type"), "model call failed")
		if !strings.HasPrefix(strings.ToLower(msg), "api error") {
			msg = "API error: " + msg
		}
		p.block(st.red("✗ "), "  ", msg, p.o.FoldLines, st.red)
		p.lastError = n.span.StatusMessage
		printed = true // its text is the error, not an answer
	}
	for _, m := range messages(n.str("gen_ai.output.messages")) {
		for _, part := range m.Parts {
			switch part.Type {
			case "tool_call":
				var t *node
				if toolFor != nil {
					t = toolFor(part.ID)
				}
				if t != nil {
					p.tool(t)
				} else if toolFor != nil {
					p.toolCall(part.Name, part.Arguments, "no result recorded")
				}
			default:
				if !n.isError() && p.parts([]genai.Part{part}) {
					printed = true
				}
			}
		}
	}
	return printed
}

// event prints a compaction or an API error recorded on a turn.
func (p *printer) event(ev *genai.Event) {
	st := p.st
	attrs := map[string]attribute.Value{}
	for _, kv := range ev.Attrs {
		k := string(kv.Key)
		if i := strings.LastIndex(k, "."); i >= 0 && strings.Contains(k, ".compaction.") {
			k = k[i+1:]
		}
		attrs[k] = kv.Value
	}
	get := func(k string) string {
		if v, ok := attrs[k]; ok {
			if v.Type() == attribute.STRING {
				return v.AsString()
			}
			return v.String()
		}
		return ""
	}
	num := func(k string) (int64, bool) {
		v, ok := attrs[k]
		switch {
		case !ok:
			return 0, false
		case v.Type() == attribute.INT64:
			return v.AsInt64(), true
		case v.Type() == attribute.FLOAT64:
			return int64(v.AsFloat64()), true
		}
		return 0, false
	}
	switch {
	case strings.HasSuffix(ev.Name, ".compaction"):
		line := "⟳ compacted"
		if tr := get("trigger"); tr != "" {
			line += " (" + tr + ")"
		}
		pre, okPre := num("pre_tokens")
		if !okPre {
			pre, okPre = num("context_tokens")
		}
		post, okPost := num("post_tokens")
		switch {
		case okPre && okPost:
			line += " · " + fmtInt(pre) + " → " + fmtInt(post) + " tokens"
		case okPre:
			line += " · " + fmtInt(pre) + " tokens before"
		}
		if ms, ok := num("duration_ms"); ok && ms > 0 {
			line += " · " + fmtDur(time.Duration(ms)*time.Millisecond)
		}
		p.line(st.compaction(line))
		if s := get("summary"); s != "" {
			p.block("  "+st.dim("⎿ "), "    ", s, p.o.FoldLines/2, st.dim)
		}
	case strings.HasSuffix(ev.Name, ".api_error"):
		line := "✗ API error"
		if code := get("http.response.status_code"); code != "" {
			line += " " + code
		}
		if t := get("error.type"); t != "" {
			line += " " + t
		}
		if m := get("error.message"); m != "" {
			line += ": " + oneLine(m, 200)
		}
		if a := get("claude_code.retry_attempt"); a != "" {
			line += st.dim(" (attempt " + a + ")")
		}
		p.line(st.red(line))
	}
}

// status prints why a turn or subagent ended badly.
func (p *printer) status(n *node) {
	if !n.isError() {
		return
	}
	what := firstNonEmpty(n.str("error.type"), "error")
	msg := strings.TrimSpace(n.span.StatusMessage)
	if what == "api_error" && msg != "" && msg == strings.TrimSpace(p.lastError) {
		return // just printed with the model call that failed
	}
	line := "✗ " + strings.ReplaceAll(what, "_", " ")
	if msg != "" && msg != what {
		line += ": " + oneLine(msg, 200)
	}
	p.line(p.st.red(line))
}

// footer: a turn's tokens, model calls and duration.
func (p *printer) footer(t *node) {
	st := p.st
	var tot totals
	for _, c := range t.children {
		tot.add(c)
	}
	var parts []string
	u, ok := tot.usage, tot.hasUsage
	if !ok {
		u, ok = chatUsage(t) // the turn's own sum, when its model calls are not here
	}
	if ok && !u.zero() {
		parts = append(parts, fmtUsage(st, u))
	}
	if tot.chats > 0 {
		parts = append(parts, plural(tot.chats, "model call"))
	}
	if tot.tools > 0 {
		parts = append(parts, plural(tot.tools, "tool call"))
	}
	if d := t.dur(); d > 0 {
		parts = append(parts, fmtDur(d))
	}
	if len(parts) == 0 {
		return
	}
	p.line(st.dim("  ↳ ") + strings.Join(parts, st.dim(" · ")))
}

// block prints text: first line after first, the rest after rest (both
// already styled prefixes), folded to max lines unless Full, each line
// passed through color.
func (p *printer) block(first, rest, text string, max int, color func(string) string) {
	if color == nil {
		color = func(s string) string { return s }
	}
	lines, more := p.fold(text, max)
	for i, l := range lines {
		lead := rest
		if i == 0 {
			lead = first
		}
		p.line(lead + color(l))
	}
	if more > 0 {
		p.line(rest + p.st.dim(fmt.Sprintf("… (%s)", plural(more, "more line"))))
	}
}

// fold cleans text (control characters, tabs, surrounding blank lines)
// and keeps its first max lines, each cut to MaxLineRunes, unless Full.
func (p *printer) fold(text string, max int) ([]string, int) {
	lines := cleanLines(text)
	if max < 1 {
		max = 1
	}
	more := 0
	if !p.o.Full && len(lines) > max {
		// Folding one line would save nothing: show it.
		if len(lines) > max+1 {
			more = len(lines) - max
			lines = lines[:max]
		}
	}
	if !p.o.Full {
		for i, l := range lines {
			// Cutting a few characters would save nothing: keep them.
			if n := runeLen(l); n > p.o.MaxLineRunes+40 {
				r := []rune(l)
				lines[i] = string(r[:p.o.MaxLineRunes]) + fmt.Sprintf(" … (+%d chars)", n-p.o.MaxLineRunes)
			}
		}
	}
	return lines, more
}

func messages(raw string) []genai.Message {
	if raw == "" {
		return nil
	}
	var msgs []genai.Message
	if json.Unmarshal([]byte(raw), &msgs) != nil {
		return nil
	}
	return msgs
}

func attrOf(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
