package render

import (
	"encoding/json"
	"fmt"
	"strings"
)

// tool prints a tool call: name and main argument, duration, the other
// arguments, the result, and any subagent it started.
func (p *printer) tool(n *node) {
	st := p.st
	name := n.str("gen_ai.tool.name")
	args := n.str("gen_ai.tool.call.arguments")
	var subs []*node
	for _, c := range n.children {
		if c.op() == "invoke_agent" {
			subs = append(subs, c)
		}
	}
	kv := objectFields(args)
	key, summary := mainArg(name, kv)
	skip := map[string]bool{key: true}
	if len(subs) > 0 {
		// The subagent's own block shows its prompt and type.
		skip["prompt"], skip["subagent_type"], skip["description"] = true, true, true
	}
	head := st.toolName(displayToolName(name))
	if summary != "" {
		head += st.toolName("(") + oneLine(summary, 100) + st.toolName(")")
	}
	var meta []string
	if d := n.dur(); d > 0 {
		meta = append(meta, fmtDur(d))
	}
	marker := st.tool("● ")
	if n.isError() {
		marker = st.red("✗ ")
		if et := n.str("error.type"); et != "" && et != "tool_error" {
			meta = append(meta, st.red(strings.ReplaceAll(et, "_", " ")))
		} else {
			meta = append(meta, st.red("failed"))
		}
	}
	if len(meta) > 0 {
		head += st.dim(" · ") + strings.Join(meta, st.dim(" · "))
	}
	p.line(marker + head)
	if name == "TodoWrite" && p.todos(kv) {
		skip["todos"] = true
	}
	p.args(kv, args, skip)
	result := n.str("gen_ai.tool.call.result")
	if result == "" && n.isError() {
		result = n.span.StatusMessage
	}
	color := (func(string) string)(nil)
	if n.isError() {
		color = st.red
	}
	printResult := func() {
		max := p.o.FoldLines
		if len(subs) > 0 || name == "TodoWrite" {
			max = 1 // the subagent's block (or the list above) has the content
		}
		if strings.TrimSpace(result) != "" {
			p.block("  "+st.dim("⎿ "), "    ", result, max, color)
		} else if len(subs) == 0 {
			p.line("  " + st.dim("⎿ (no output)"))
		}
	}
	for _, c := range n.children {
		if c.op() != "invoke_agent" {
			p.item(c, nil)
		}
	}
	// A subagent that ran while the tool call waited comes before the
	// result it returned; a background one after.
	background := len(subs) > 0 && subs[0].str("claude_code.subagent.background") == "true"
	if background {
		printResult()
	}
	for _, s := range subs {
		p.subagent(s)
	}
	if !background {
		printResult()
	}
}

// todos prints a TodoWrite list as a checklist; false when the argument is
// not the expected list.
func (p *printer) todos(kv []field) bool {
	var raw string
	for _, f := range kv {
		if f.key == "todos" {
			raw = f.text
		}
	}
	var todos []struct {
		Content string `json:"content"`
		Status  string `json:"status"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &todos) != nil || len(todos) == 0 {
		return false
	}
	for _, t := range todos {
		switch t.Status {
		case "completed":
			p.line("  " + p.st.dim("✓ "+oneLine(t.Content, p.o.MaxLineRunes)))
		case "in_progress":
			p.line("  " + p.st.bold("▶ "+oneLine(t.Content, p.o.MaxLineRunes)))
		default:
			p.line("  ○ " + oneLine(t.Content, p.o.MaxLineRunes))
		}
	}
	return true
}

// toolCall prints a tool call known only from the model's request.
func (p *printer) toolCall(name string, args json.RawMessage, note string) {
	kv := objectFields(string(args))
	key, summary := mainArg(name, kv)
	head := p.st.toolName(displayToolName(name))
	if summary != "" {
		head += p.st.toolName("(") + oneLine(summary, 100) + p.st.toolName(")")
	}
	p.line(p.st.tool("● ") + head + p.st.dim(" · "+note))
	p.args(kv, string(args), map[string]bool{key: true})
}

// args prints the arguments not shown in the header, one per line; an
// edit's old and new text as removed and added lines.
func (p *printer) args(kv []field, raw string, skip map[string]bool) {
	st := p.st
	if kv == nil {
		if s := strings.TrimSpace(raw); s != "" && s != "{}" && s != "null" {
			p.block("  ", "  ", s, p.o.FoldLines, st.dim)
		}
		return
	}
	oldS, newS := "", ""
	hasEdit := false
	for _, f := range kv {
		if f.key == "old_string" || f.key == "new_string" {
			hasEdit = true
		}
	}
	for _, f := range kv {
		if skip[f.key] {
			continue
		}
		if hasEdit && (f.key == "old_string" || f.key == "new_string") {
			if f.key == "old_string" {
				oldS = f.text
			} else {
				newS = f.text
			}
			continue
		}
		if !strings.Contains(f.text, "\n") {
			p.block("  "+st.dim(f.key+": "), "    ", f.text, p.o.FoldLines, st.dim)
			continue
		}
		p.line("  " + st.dim(f.key+":"))
		p.block("    ", "    ", f.text, p.o.FoldLines, st.dim)
	}
	if hasEdit {
		p.diff(oldS, newS)
	}
}

// diff prints an edit: removed lines, then added lines, each folded.
func (p *printer) diff(oldS, newS string) {
	st := p.st
	for _, side := range []struct {
		mark  string
		text  string
		color func(string) string
	}{{"- ", oldS, st.removed}, {"+ ", newS, st.added}} {
		if side.text == "" {
			continue
		}
		lines, more := p.fold(side.text, p.o.FoldLines)
		for _, l := range lines {
			p.line("  " + side.color(side.mark+l))
		}
		if more > 0 {
			p.line("  " + st.dim(fmt.Sprintf("  … (%s)", plural(more, "more line"))))
		}
	}
}

// subagent prints a subagent run indented under the tool call (or turn)
// that started it, behind a bar.
func (p *printer) subagent(a *node) {
	st := p.st
	typ := firstNonEmpty(a.str("gen_ai.agent.name"), "subagent")
	head := st.agent("▸ " + typ + " subagent")
	var meta []string
	if id := a.str("gen_ai.agent.id"); id != "" {
		meta = append(meta, id)
	}
	if a.str("claude_code.subagent.background") == "true" {
		meta = append(meta, "background")
	}
	if d := a.dur(); d > 0 {
		meta = append(meta, fmtDur(d))
	}
	if m := a.str("gen_ai.request.model"); m != "" {
		meta = append(meta, m)
	}
	var t totals
	for _, c := range a.children {
		t.add(c)
	}
	if t.hasUsage {
		meta = append(meta, fmtInt(t.usage.in)+" in", fmtInt(t.usage.out)+" out")
	}
	if len(meta) > 0 {
		head += st.dim(" · " + strings.Join(meta, " · "))
	}
	saved := p.prefix
	p.line("  " + head)
	p.prefix = saved + "  " + st.agent("│") + " "
	p.agentBody(a)
	p.prefix = saved
}
