package claude

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/regular"

	"github.com/weave-agentd/weave-agentd/genai"
)

const (
	// linkWait bounds how long subagent lines wait (buffered) for the tool
	// call that started them before they are placed by time.
	linkWait = 30 * time.Second
	// maxBuffer caps the bytes of subagent lines buffered per agent.
	maxBuffer = 2 << 20
	// maxClosedAgents closed agents stay known, so late lines are not
	// mistaken for a new run.
	maxClosedAgents = 64
	// maxGone ids of forgotten agents are remembered.
	maxGone = 1024
)

func promptKey(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	return itoaHex(h.Sum64())
}

func itoaHex(v uint64) string {
	const digits = "0123456789abcdef"
	var buf [16]byte
	for i := 15; i >= 0; i-- {
		buf[i] = digits[v&15]
		v >>= 4
	}
	return string(buf[:])
}

// registerAgentTool notes an Agent/Task tool call so the subagent it starts
// can be placed under it.
func (b *Builder) registerAgentTool(c *tctx, bl *block) {
	if b.st.AgentTools == nil {
		b.st.AgentTools = map[string]*agentTool{}
	}
	if b.st.AgentTools[bl.ID] != nil {
		return
	}
	var in struct {
		Prompt       string `json:"prompt"`
		Description  string `json:"description"`
		SubagentType string `json:"subagent_type"`
		Background   bool   `json:"run_in_background"`
	}
	_ = json.Unmarshal(bl.Input, &in)
	at := &agentTool{
		Type:       in.SubagentType,
		Desc:       in.Description,
		PromptKey:  promptKey(in.Prompt),
		Background: in.Background,
	}
	if c.ag != nil {
		at.Turn, at.Session, at.Owner = c.ag.TurnKey, c.ag.Session, c.ag.ID
	} else {
		at.Turn, at.Session = c.turn.Key, c.turn.Session
	}
	b.st.AgentTools[bl.ID] = at
	// An agent already waiting for this call (its meta file or its prompt names it)?
	for _, a := range b.st.Agents {
		if !a.Linked && !a.Compact && !a.Inline && (a.ToolUseID == bl.ID || at.PromptKey != "" && a.PromptKey == at.PromptKey) {
			b.link(a, bl.ID, at)
			break
		}
	}
}

// linkToolAgent records that tool call toolID started agent agentID.
func (b *Builder) linkToolAgent(toolID, agentID string) {
	agentID = strings.TrimPrefix(agentID, "agent-")
	at := b.st.AgentTools[toolID]
	if at == nil || agentID == "" {
		return
	}
	if at.Agent == "" {
		at.Agent = agentID
	}
	a := b.agentIdx[agentID]
	if a == nil {
		b.discoverAgent(agentID)
		a = b.agentIdx[agentID]
	}
	if a != nil && !a.Linked {
		b.link(a, toolID, at)
	}
}

func (b *Builder) newAgent(id, file string) *agent {
	a := &agent{ID: id, File: file, Compact: strings.HasPrefix(id, "acompact"), SeenAt: b.st.Now}
	b.st.Agents = append(b.st.Agents, a)
	b.agentIdx[id] = a
	return a
}

// agentLine handles a line of a subagent transcript.
func (b *Builder) agentLine(id, path string, r *record, raw []byte) {
	a := b.agentIdx[id]
	if a == nil {
		if slices.Contains(b.st.Gone, id) {
			b.st.Stats.SkippedLines++ // a run emitted and forgotten long ago
			return
		}
		a = b.newAgent(id, path)
		if path != "" {
			b.addSubFile(path)
		}
	}
	if a.Closed {
		b.st.Stats.SkippedLines++ // a run we already emitted (a later resume is not traced)
		return
	}
	a.SeenAt = b.st.Now
	ts := parseTime(r.Timestamp)
	if !a.Linked {
		if !ts.IsZero() && (a.Start.IsZero() || ts.Before(a.Start)) {
			a.Start = ts
		}
		if a.PromptKey == "" && r.Type == "user" && r.Message != nil && !r.IsMeta {
			if k, tr := userKind(&r.Message.Content); !tr && k == realPrompt {
				text := userText(&r.Message.Content)
				a.PromptKey = promptKey(text)
				if isCompactionPrompt(text) {
					a.Compact = true // the compaction's model call, run as a subagent (2.1.3xx)
				}
			}
		}
		b.tryLink(a)
		if !a.Linked {
			a.Buffer = append(a.Buffer, string(raw))
			a.BufBytes += len(raw)
			if a.BufBytes > maxBuffer {
				b.placeByTime(a)
			}
			return
		}
	}
	b.agentRecord(a, r)
}

// inlineSideLine handles a 1.0.x sidechain line in the main transcript.
func (b *Builder) inlineSideLine(r *record, raw []byte) {
	if b.st.SideUUIDs == nil {
		b.st.SideUUIDs = map[string]string{}
	}
	var id string
	if r.ParentUUID == nil || *r.ParentUUID == "" {
		id = r.UUID // a sidechain root: the Task prompt
		if id == "" {
			b.st.Stats.SkippedLines++
			return
		}
	} else if id = b.st.SideUUIDs[*r.ParentUUID]; id == "" {
		b.st.Stats.SkippedLines++ // its chain is unknown (or already finished)
		return
	}
	if r.UUID != "" {
		b.st.SideUUIDs[r.UUID] = id
	}
	a := b.agentIdx[id]
	if a == nil {
		a = b.newAgent(id, "")
		a.Inline = true
		a.Compact = false
	}
	b.agentLine(id, "", r, raw)
}

// tryLink places an agent under the tool call that started it.
func (b *Builder) tryLink(a *agent) {
	if a.Linked {
		return
	}
	if a.Compact {
		b.linkCompactions()
		return
	}
	ids := make([]string, 0, len(b.st.AgentTools))
	for id := range b.st.AgentTools {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if at := b.st.AgentTools[id]; at.Agent == a.ID || (a.ToolUseID == id && at.Agent == "") {
			b.link(a, id, at)
			return
		}
	}
	if a.PromptKey == "" {
		return
	}
	for _, id := range ids {
		if at := b.st.AgentTools[id]; at.Agent == "" && at.PromptKey == a.PromptKey {
			b.link(a, id, at)
			return
		}
	}
}

// link attaches agent a to tool call toolID and replays its buffered lines.
func (b *Builder) link(a *agent, toolID string, at *agentTool) {
	a.Linked = true
	a.ToolUseID = toolID
	a.TurnKey, a.Session, a.Owner = at.Turn, at.Session, at.Owner
	if a.Type == "" {
		a.Type = at.Type
	}
	if a.Desc == "" {
		a.Desc = at.Desc
	}
	a.Background = a.Background || at.Background
	at.Agent = a.ID
	b.replay(a)
}

// linkTo attaches an agent directly under a turn (no tool call known).
func (b *Builder) linkTo(a *agent, key, session string) {
	a.Linked = true
	a.TurnKey, a.Session = key, session
	b.replay(a)
}

func (b *Builder) replay(a *agent) {
	buf := a.Buffer
	a.Buffer, a.BufBytes = nil, 0
	if a.Version == "" {
		a.Version = b.st.Version
	}
	for _, l := range buf {
		r, err := parseLine([]byte(l))
		if err != nil {
			continue
		}
		b.agentRecord(a, r)
	}
	if t := b.turnIdx[a.TurnKey]; t != nil {
		t.SeenAt = b.st.Now
	}
}

// placeByTime places an agent nobody claimed under the turn running at its
// first line (or, with no turn at all, in a trace of its own).
func (b *Builder) placeByTime(a *agent) {
	if a.PromptKey == warmupKey {
		// 2.0.x started "Warmup" sidechains at startup: not user work.
		a.Linked, a.Done, a.Closed = true, true, true
		a.Buffer, a.BufBytes = nil, 0
		return
	}
	var best *turn
	for _, t := range b.st.Turns {
		if best == nil || a.Start.IsZero() || !t.Start.After(a.Start) {
			best = t
		}
	}
	if best != nil {
		b.linkTo(a, best.Key, best.Session)
		return
	}
	b.linkTo(a, "agent:"+a.ID, b.session)
}

// linkCompactions pairs compaction calls (agent-acompact-*) with the
// compactions recorded in turns, in time order.
func (b *Builder) linkCompactions() {
	for _, a := range b.st.Agents {
		if !a.Compact || a.Linked || len(a.Buffer) == 0 {
			continue
		}
		var bestT *turn
		var best *compaction
		for _, t := range b.st.Turns {
			for _, cmp := range t.Compactions {
				if cmp.Agent != "" {
					continue
				}
				if !a.Start.IsZero() && !cmp.Time.IsZero() && cmp.Time.Before(a.Start) {
					continue
				}
				if best == nil || cmp.Time.Before(best.Time) {
					best, bestT = cmp, t
				}
			}
		}
		if best == nil {
			continue
		}
		best.Agent = a.ID
		b.linkTo(a, bestT.Key, bestT.Session)
	}
}

// agentRecord processes one line of a linked agent.
func (b *Builder) agentRecord(a *agent, r *record) {
	ts := parseTime(r.Timestamp)
	if r.Version != "" && r.Version[0] >= '0' && r.Version[0] <= '9' {
		a.Version = r.Version
	}
	c := b.agentCtx(a)
	if !ts.IsZero() {
		if a.Start.IsZero() || ts.Before(a.Start) {
			a.Start = ts
		}
		if ts.After(a.End) {
			a.End = ts
		}
	}
	if t := b.turnIdx[a.TurnKey]; t != nil {
		t.SeenAt = b.st.Now
	}
	switch r.Type {
	case "user":
		if r.Message == nil {
			break
		}
		cont := &r.Message.Content
		kind, hasTR := userKind(cont)
		switch {
		case hasTR:
			for i := range cont.Blocks {
				if cont.Blocks[i].Type == "tool_result" {
					b.toolResult(c, &cont.Blocks[i], r, ts)
				}
			}
		case r.IsMeta || r.IsCompactSummary:
		case kind == interruption:
			a.Status, a.StatusMsg, a.ErrorType = genai.StatusError, "interrupted by user", "interrupted"
			b.cancelPending(c, ts)
			b.finishAgent(a)
			return
		case kind == realPrompt && len(a.Prompt) == 0 && !a.Compact:
			a.Prompt = promptParts(cont)
		}
	case "assistant":
		if r.Message == nil {
			break
		}
		if a.Ending && msgID(r) != a.Th.LastMsg {
			a.Ending = false
		}
		b.addAssistant(c, r, ts)
		if r.IsAPIErrorMessage {
			a.Status, a.ErrorType = genai.StatusError, "api_error"
			a.StatusMsg = strings.Join(a.Th.Answer, "\n")
		}
		if isFinal(a.Th.Finish) && len(a.Th.Pending) == 0 {
			a.Ending = true
		}
	case "progress":
		if r.Data != nil && r.Data.Type == "agent_progress" && r.Data.AgentID != "" && r.ParentToolUseID != "" {
			b.linkToolAgent(r.ParentToolUseID, r.Data.AgentID)
		}
	case "api-request":
		if a.Th.Model == "" {
			a.Th.Model = r.ReqModel
		}
		a.Th.MaxTok = r.MaxTokens
	case "api-request-shape", "attachment":
		// The shape of its first request (a prompt_snapshot until then).
		if a.Th.Chats > 0 || len(a.Th.Open) > 0 {
			break
		}
		var sys, tools json.RawMessage
		switch {
		case r.Shape != nil:
			sys, tools = r.Shape.System, r.Shape.Tools
		case r.Attachment != nil && r.Attachment.Type == "prompt_snapshot":
			sys, tools = r.Attachment.SystemPrompt, r.Attachment.Tools
		}
		if p := shapePart(sys); p != nil {
			a.System = p
		}
		if p := shapePart(tools); p != nil {
			a.Tools = p
		}
	}
	if !ts.IsZero() && ts.After(a.Th.LastTime) {
		a.Th.LastTime = ts
	}
	b.checkAgentDone(a)
}

// checkAgentDone finishes a foreground subagent once the parent has its
// result and the subagent's own transcript has caught up with it.
func (b *Builder) checkAgentDone(a *agent) {
	if a.Done || !a.Linked || a.Compact {
		return
	}
	at := b.st.AgentTools[a.ToolUseID]
	if at == nil || !at.Result || at.Background {
		return
	}
	if a.Inline || (len(a.Th.Pending) == 0 && !a.Th.HasTool && answerMatches(a.Th.Answer, at.ResultText)) {
		b.finishAgent(a)
	}
}

// finishAgent ends a subagent run: its open responses become chat spans,
// then its own span is emitted, and its turn may now complete.
func (b *Builder) finishAgent(a *agent) {
	if a.Done {
		return
	}
	if !a.Linked {
		b.placeByTime(a)
		if a.Done {
			return
		}
	}
	a.Done = true
	a.Ending = false
	c := b.agentCtx(a)
	b.flushThread(c)
	b.flushWaitingToolsOf(c)
	a.Closed = true
	if !a.Compact {
		b.emit(b.agentSpan(a))
	}
	a.Prompt, a.Th.Answer, a.Buffer, a.BufBytes = nil, nil, nil, 0
	a.System, a.Tools = nil, nil
	if a.Inline {
		for u, id := range b.st.SideUUIDs {
			if id == a.ID {
				delete(b.st.SideUUIDs, u)
			}
		}
	}
	if t := b.turnIdx[a.TurnKey]; t != nil && t.Done && !t.Closed {
		b.tryEmitTurn(t, false)
	}
	b.pruneAgents()
}

func (b *Builder) flushWaitingToolsOf(c *tctx) {
	for _, id := range sortedPendingIDs(c.th) {
		if tc := c.th.Pending[id]; tc.Done {
			b.emitTool(c, tc)
		}
	}
}

// pruneAgents forgets the oldest closed agents.
func (b *Builder) pruneAgents() {
	closed := 0
	for _, a := range b.st.Agents {
		if a.Closed {
			closed++
		}
	}
	if closed <= maxClosedAgents {
		return
	}
	drop := closed - maxClosedAgents
	kept := b.st.Agents[:0]
	for _, a := range b.st.Agents {
		if drop > 0 && a.Closed && len(a.Th.Pending) == 0 {
			drop--
			delete(b.agentIdx, a.ID)
			b.st.Gone = append(b.st.Gone, a.ID)
			if n := len(b.st.Gone); n > maxGone {
				b.st.Gone = append([]string(nil), b.st.Gone[n-maxGone:]...)
			}
			if at := b.st.AgentTools[a.ToolUseID]; at != nil && at.Agent == a.ID {
				delete(b.st.AgentTools, a.ToolUseID)
			}
			continue
		}
		kept = append(kept, a)
	}
	b.st.Agents = kept
}

// ---- discovery ----

func (b *Builder) setMain(path string) {
	b.st.Main = filepath.Clean(path)
	b.discover()
}

// sessionDir is <project dir>/<session> beside the main transcript.
func (b *Builder) sessionDir() string {
	if b.st.Main == "" {
		return ""
	}
	return strings.TrimSuffix(b.st.Main, ".jsonl")
}

// discover finds the main transcript (under ClaudeHome) and subagent files.
func (b *Builder) discover() {
	if b.st.Main == "" && b.opts.ClaudeHome != "" && b.session != "" {
		m, _ := filepath.Glob(filepath.Join(b.opts.ClaudeHome, "projects", "*", b.session+".jsonl"))
		if len(m) > 0 {
			sort.Strings(m)
			b.st.Main = m[0]
		}
	}
	dir := b.sessionDir()
	if dir == "" {
		return
	}
	for _, pat := range []string{
		filepath.Join(dir, "subagents", "agent-*.jsonl"),
		filepath.Join(dir, "subagents", "workflows", "*", "agent-*.jsonl"),
	} {
		m, _ := filepath.Glob(pat)
		sort.Strings(m)
		for _, p := range m {
			b.addSubFile(p)
		}
	}
}

// discoverAgent looks for the file of a subagent whose id we just learned.
func (b *Builder) discoverAgent(id string) {
	dir := b.sessionDir()
	if dir == "" || id == "" || strings.ContainsAny(id, `/\`) {
		return
	}
	for _, p := range []string{
		filepath.Join(dir, "subagents", "agent-"+id+".jsonl"),
		filepath.Join(filepath.Dir(b.st.Main), "agent-"+id+".jsonl"), // 2.0.x flat layout
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			b.addSubFile(p)
			return
		}
	}
}

// addSubFile starts tailing a subagent file and reads its sidecar.
func (b *Builder) addSubFile(path string) {
	path = filepath.Clean(path)
	for _, p := range b.st.SubFiles {
		if p == path {
			return
		}
	}
	b.st.SubFiles = append(b.st.SubFiles, path)
	id := agentIDFromPath(path)
	if id == "" {
		return
	}
	a := b.agentIdx[id]
	if a == nil {
		if slices.Contains(b.st.Gone, id) {
			return
		}
		a = b.newAgent(id, path)
	}
	if a.File == "" {
		a.File = path
	}
	b.readMeta(a, strings.TrimSuffix(path, ".jsonl")+".meta.json")
	if !a.Linked && !a.Compact {
		b.tryLink(a)
	}
}

func (b *Builder) readMeta(a *agent, path string) {
	f, _, err := regular.OpenOwn(path) // no FIFO (it would block the session), nobody else's file
	if err != nil {
		return
	}
	defer f.Close()
	var meta struct {
		AgentType   string `json:"agentType"`
		Description string `json:"description"`
		ToolUseID   string `json:"toolUseId"`
		Model       string `json:"model"`
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return
	}
	if b.opts.Redact != nil {
		data = b.opts.Redact(data)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return
	}
	if meta.AgentType != "" {
		a.Type = meta.AgentType
	}
	if meta.Description != "" && a.Desc == "" {
		a.Desc = meta.Description
	}
	if meta.ToolUseID != "" && !a.Linked {
		a.ToolUseID = meta.ToolUseID
	}
}

var warmupKey = promptKey("Warmup")

// isCompactionPrompt recognises the summarisation request of a compaction.
func isCompactionPrompt(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), "Your task is to create a detailed summary of the conversation")
}
