package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/regular"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// A subagent (Gemini CLI 0.61.0's invoke_agent tool, e.g. agent_name
// "generalist" or "codebase_investigator") keeps a chat file of its own,
// chats/<parent session id>/<agent id>.jsonl next to the session's (kind
// "subagent" in its header; ChatRecordingService in
// packages/core/src/services/chatRecordingService.ts), in the same format.
// The launching tool call's record in the parent's file names it by its
// "agentId"; that record is written once the subagent has finished, so its
// file is complete when the builder sees the call. The builder then reads
// it whole and nests its spans under the tool call's span: an invoke_agent
// span, with the subagent's own chat spans (its usage, which the parent's
// file does not count) and tool spans inside.

// maxAgentID bounds a subagent id kept (a UUID in Gemini CLI).
const maxAgentID = 128

// maxSubagentFile bounds what is read of one subagent's chat file.
const maxSubagentFile = 256 << 20

// unsafeName is what Gemini CLI's sanitizeFilenamePart replaces in a
// session or agent id before making a file name of it.
var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// subagentPath is the chat file of the subagent with id agentID; "" when
// the session's own file is not known.
func (b *Builder) subagentPath(agentID string) string {
	if b.st.Main == "" || agentID == "" || b.session == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(b.st.Main), unsafeName.ReplaceAllString(b.session, "_"),
		unsafeName.ReplaceAllString(agentID, "_")+".jsonl")
}

// subagentName is the subagent's name: the invoke_agent call's agent_name,
// else the tool's name (a subagent offered as a tool of its own).
func subagentName(tc *toolCall) string {
	var args struct {
		AgentName string `json:"agent_name"`
	}
	if json.Unmarshal(tc.Args, &args) == nil && args.AgentName != "" {
		return args.AgentName
	}
	return tc.Name
}

// subagentRun is what one subagent's chat file holds, for its span.
type subagentRun struct {
	prompt     []genai.Part
	model      string
	answer     string
	start, end time.Time
}

// subagent emits the spans of the subagent that the tool call tc (whose
// span is tool) ran.
func (b *Builder) subagent(trace genai.TraceID, tool genai.Span, tc *toolCall) {
	path := b.subagentPath(tc.Agent)
	if path == "" {
		return
	}
	f, _, err := regular.OpenOwn(path) // the user's own regular file
	if err != nil {
		b.log.Debug("gemini builder: subagent chat file", "path", path, "err", err)
		return
	}
	defer f.Close()
	name := subagentName(tc)
	sub := genai.NewSpanID(trace, genai.KindSubagent, tc.Agent)
	run := subagentRun{start: tool.Start, end: tool.Start}
	var cur *message
	flush := func() {
		if cur == nil {
			return
		}
		b.emit(b.chatSpan(trace, sub, name, cur))
		for i := range cur.Tools {
			b.emit(b.toolSpan(trace, sub, name, cur, &cur.Tools[i]))
			if e := cur.Tools[i].End; e.After(run.end) {
				run.end = e
			}
		}
		if run.model == "" {
			run.model = cur.Model
		}
		if text := strings.TrimSpace(strings.Join(cur.Text, "\n")); text != "" {
			run.answer = text
		}
		cur = nil
	}
	last := run.start
	r := bufio.NewReader(io.LimitReader(f, maxSubagentFile))
	for {
		line, err := readLine(r)
		if len(line) > 0 {
			if b.opts.Redact != nil {
				line = b.opts.Redact(line)
			}
			b.subagentLine(line, &run, &cur, &last, flush)
		}
		if err != nil {
			break
		}
	}
	flush()
	b.emit(b.subagentSpan(trace, tool, sub, name, tc, &run))
}

// readLine returns the next line without its newline; a line longer than
// transcript.MaxLine comes back empty (skipped). err is io.EOF at the end.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	long := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !long {
			if len(line)+len(chunk) > transcript.MaxLine+2 {
				long, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if long {
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// subagentLine applies one line of a subagent's chat file.
func (b *Builder) subagentLine(line []byte, run *subagentRun, cur **message, last *time.Time, flush func()) {
	if bytes.HasPrefix(bytes.TrimSpace(line), setPrefix) {
		// {"$set":{"summary":…}} is its final output (complete_task's).
		var p struct {
			Set struct {
				Summary *string `json:"summary"`
			} `json:"$set"`
		}
		if json.Unmarshal(line, &p) == nil && p.Set.Summary != nil && run.answer == "" {
			run.answer = cutText(*p.Set.Summary, maxText)
		}
		return
	}
	r, err := parseLine(line)
	if err != nil {
		return
	}
	if !r.isMessage() {
		var h struct {
			StartTime string `json:"startTime"`
		}
		if json.Unmarshal(line, &h) == nil {
			if ts := parseTime(h.StartTime); !ts.IsZero() {
				run.start, *last = ts, ts
			}
		}
		return
	}
	ts := parseTime(r.Timestamp)
	if ts.After(run.end) {
		run.end = ts
	}
	switch r.Type {
	case "user":
		flush()
		if c, _ := parseContent(r.Content); run.prompt == nil && c.isPrompt() {
			run.prompt = promptParts(&c)
		}
		if ts.After(*last) {
			*last = ts
		}
	case "gemini":
		m, _ := newMessage(r, ts)
		if c := *cur; c != nil && c.ID == r.ID {
			m.Start = c.Start
			if m.Tokens == nil {
				m.Tokens = c.Tokens
			}
		} else {
			flush()
			m.Start = *last
		}
		*cur = m
		if ts.After(*last) {
			*last = ts
		}
	}
}

// terminationRE finds the reason Gemini CLI gives for a subagent's end in
// the invoke_agent result ("Termination Reason: GOAL").
var terminationRE = regexp.MustCompile(`(?m)^Termination Reason: (\w+)`)

func (b *Builder) subagentSpan(trace genai.TraceID, tool genai.Span, id genai.SpanID, name string, tc *toolCall, run *subagentRun) genai.Span {
	attrs := b.agentNames("invoke_agent", name)
	attrs = append(attrs, semconv.GenAIAgentIDKey.String(tc.Agent), semconv.GenAIToolCallIDKey.String(tc.ID))
	if run.model != "" {
		attrs = append(attrs, semconv.GenAIRequestModelKey.String(run.model))
	}
	if len(run.prompt) > 0 {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIInputMessagesKey,
			[]genai.Message{{Role: "user", Parts: run.prompt}}))
	}
	if run.answer != "" {
		attrs = append(attrs, genai.MessagesAttr(semconv.GenAIOutputMessagesKey,
			[]genai.Message{{Role: "assistant", Parts: []genai.Part{{Type: "text", Content: run.answer}}, FinishReason: "stop"}}))
	}
	s := genai.Span{
		TraceID:  trace,
		SpanID:   id,
		ParentID: tool.SpanID,
		Name:     "invoke_agent " + name,
		Attrs:    attrs,
		Resource: b.resource(),
	}
	s.Start, s.End = genai.Bounds(run.start, run.end)
	if m := terminationRE.FindStringSubmatch(tc.Result); m != nil {
		s.Attrs = append(s.Attrs, attribute.String("gemini_cli.subagent.termination_reason", m[1]))
		if m[1] != "GOAL" {
			s.Status, s.StatusMessage = genai.StatusError, "terminated: "+m[1]
			s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String(strings.ToLower(m[1])))
		}
	} else if tool.Status == genai.StatusError {
		s.Status, s.StatusMessage = genai.StatusError, tool.StatusMessage
		s.Attrs = append(s.Attrs, semconv.ErrorTypeKey.String("tool_error"))
	}
	return s
}
