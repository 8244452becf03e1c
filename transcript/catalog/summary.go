package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Usage is a conversation's token usage, summed over its model calls.
type Usage struct {
	Input         int64 `json:"input"` // including cache reads and cache creation
	Output        int64 `json:"output"`
	CacheRead     int64 `json:"cache_read"`
	CacheCreation int64 `json:"cache_creation"`
}

// Total is input plus output tokens.
func (u Usage) Total() int64 { return u.Input + u.Output }

// Summary describes one conversation.
type Summary struct {
	File
	// Files are the transcript files read: the main one, then its
	// subagents' files.
	Files   []string `json:"files,omitempty"`
	Project string   `json:"project,omitempty"` // working directory the conversation started in
	Title   string   `json:"title,omitempty"`   // the first prompt, one line
	Model   string   `json:"model,omitempty"`   // the model used most
	Version string   `json:"agent_version,omitempty"`

	Started      time.Time `json:"started,omitzero"`
	LastActivity time.Time `json:"last_activity,omitzero"`

	Turns       int    `json:"turns"`
	FailedTurns int    `json:"failed_turns"` // interrupted or failed
	ToolCalls   int    `json:"tool_calls"`
	ToolErrors  int    `json:"tool_errors"`
	Subagents   int    `json:"subagents"`
	Compactions int    `json:"compactions"`
	ModelCalls  int    `json:"model_calls"`
	Usage       *Usage `json:"tokens,omitempty"` // nil when the agent records none (Cursor)

	Lines        int64 `json:"lines"`
	SkippedLines int64 `json:"skipped_lines,omitempty"`
	// Replayed is true when the counts come from the span builder (the
	// same spans the daemon exports); false when from a light scan.
	Replayed bool `json:"replayed"`
	// Error is set when the transcript could not be read.
	Error string `json:"error,omitempty"`

	models     map[string]int // per chat span
	turnModels map[string]int // per turn
	firstTurn  time.Time
}

// ErrNotRenderable is returned by Load for an agent whose transcripts
// cannot be replayed into spans.
var ErrNotRenderable = errors.New("this agent's transcripts cannot be rendered without the daemon")

// farFuture lets every time rule of a builder fire once the whole file is
// read: open turns idle out, waits for hooks expire.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// takeEvery is how many lines are fed before finished spans are taken out
// of the builder (and, for Summarize, folded into counters and dropped).
const takeEvery = 256

// replay feeds every transcript file of a conversation to its builder and
// passes the spans it finishes to fn as they come.
//
// The files (the main transcript and each subagent file the builder lists,
// also those it discovers on the way) are merged by line timestamp, as a
// live daemon would have read them, and the builder's clock (Tick) follows
// the lines. Reading the main file to its end first would close a
// background subagent's run (at its <task-notification>) before its own
// lines arrive. Memory: one pending line per open file.
func replay(ctx context.Context, o Options, f File, s *Summary, fn func([]genai.Span)) error {
	a, ok := transcript.AgentByName(f.Agent)
	if !ok {
		return fmt.Errorf("unknown agent %q", f.Agent)
	}
	s.Files = nil
	if !a.Discover() { // its spans come from its hooks: count its lines
		counter, ok := a.(transcript.Counter)
		if !ok {
			return ErrNotRenderable
		}
		var c transcript.Counts
		skipped, err := eachLine(ctx, f.Path, func(line []byte) bool {
			s.Lines++
			counter.Count(line, &c)
			return true
		})
		s.Turns, s.FailedTurns, s.ToolCalls, s.Started = c.Turns, c.FailedTurns, c.ToolCalls, c.Started
		s.SkippedLines += skipped
		s.Files = []string{f.Path}
		return err
	}
	cwd, _ := a.(transcript.CwdRecorder)
	b := a.NewBuilder(f.Session, transcript.BuilderOptions{TranscriptPath: f.Path, Home: home(o, a),
		Logger: slog.New(slog.DiscardHandler)})
	main := filepath.Clean(f.Path)

	var m transcript.Merge
	var files []*lineReader
	opened := map[string]bool{}
	defer func() {
		for _, lr := range files {
			lr.Close()
		}
	}()
	open := func(p string) error {
		opened[p] = true
		lr, err := openLines(p)
		if err != nil {
			return err
		}
		s.Files = append(s.Files, p)
		files = append(files, lr)
		return m.Add(lr)
	}
	if err := open(main); err != nil {
		return err
	}
	var clock time.Time
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		for _, p := range b.Files() {
			if !opened[p] {
				_ = open(p) // a subagent file that vanished: the rest still renders
			}
		}
		i, line, ts, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if i == 0 {
				return err
			}
			continue // a subagent file that cannot be read on: the rest still renders
		}
		if ts.After(clock) {
			clock = ts
			b.Tick(clock)
		}
		path := files[i].path
		if path == main && s.Project == "" && cwd != nil {
			s.Project = cwd.Cwd(line)
		}
		b.Line(path, line)
		if n%takeEvery == takeEvery-1 {
			fn(b.Take())
		}
	}
	for _, lr := range files {
		s.SkippedLines += lr.Skipped()
	}
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
	fn(b.Take())
	st := b.Stats()
	s.Lines = st.Lines
	s.SkippedLines += st.SkippedLines
	s.Replayed = true
	return nil
}

// Summarize replays one conversation and counts what it holds. Memory stays
// bounded: spans are folded into counters and dropped as they come.
func Summarize(ctx context.Context, o Options, f File) (Summary, error) {
	s := Summary{File: f}
	err := replay(ctx, o, f, &s, func(spans []genai.Span) {
		for i := range spans {
			s.add(&spans[i])
		}
	})
	s.finish(f)
	return s, err
}

// Load replays one conversation and returns all its spans (for rendering)
// with its summary.
func Load(ctx context.Context, o Options, f File) ([]genai.Span, Summary, error) {
	if a, ok := transcript.AgentByName(f.Agent); ok && !a.Discover() {
		return nil, Summary{File: f}, ErrNotRenderable
	}
	s := Summary{File: f}
	var all []genai.Span
	err := replay(ctx, o, f, &s, func(spans []genai.Span) {
		for i := range spans {
			s.add(&spans[i])
		}
		all = append(all, spans...)
	})
	s.finish(f)
	return all, s, err
}

// SummarizeAll summarises files concurrently, keeping their order. A file
// that cannot be read gets its Error set instead of failing the whole list.
func SummarizeAll(ctx context.Context, o Options, files []File) []Summary {
	out := make([]Summary, len(files))
	workers := min(runtime.GOMAXPROCS(0), 8, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				s, err := Summarize(ctx, o, files[i])
				if err != nil {
					s.Error = err.Error()
				}
				out[i] = s
			}
		})
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range out {
		if out[i].Path == "" { // not reached: cancelled
			out[i] = Summary{File: files[i], Error: context.Cause(ctx).Error()}
		}
	}
	return out
}

// SortNewestFirst orders summaries by last activity (or modification time).
func SortNewestFirst(ss []Summary) {
	at := func(s *Summary) time.Time {
		if !s.LastActivity.IsZero() {
			return s.LastActivity
		}
		return s.ModTime
	}
	sort.SliceStable(ss, func(i, j int) bool { return at(&ss[i]).After(at(&ss[j])) })
}

func (s *Summary) add(sp *genai.Span) {
	if sp.End.After(s.LastActivity) {
		s.LastActivity = sp.End
	}
	switch attrString(sp.Attrs, "gen_ai.operation.name") {
	case "invoke_agent":
		if attrString(sp.Attrs, "gen_ai.agent.id") != "" {
			s.Subagents++
			return
		}
		if !sp.ParentID.IsZero() {
			return
		}
		s.Turns++
		if sp.Status == genai.StatusError {
			s.FailedTurns++
		}
		for _, ev := range sp.Events {
			if strings.HasSuffix(ev.Name, ".compaction") {
				s.Compactions++
			}
		}
		if v := resourceString(sp.Resource, "service.version"); v != "" && s.Version == "" {
			s.Version = v
		}
		if s.firstTurn.IsZero() || sp.Start.Before(s.firstTurn) {
			s.firstTurn = sp.Start
			if t := title(attrString(sp.Attrs, "gen_ai.input.messages")); t != "" || s.Title == "" {
				s.Title = t
			}
		}
		if m := attrString(sp.Attrs, "gen_ai.request.model"); m != "" {
			s.countModel(&s.turnModels, m)
		}
	case "chat":
		s.ModelCalls++
		if m := attrString(sp.Attrs, "gen_ai.request.model"); m != "" {
			s.countModel(&s.models, m)
		}
		in, ok := attrInt(sp.Attrs, "gen_ai.usage.input_tokens")
		out, ok2 := attrInt(sp.Attrs, "gen_ai.usage.output_tokens")
		if !ok && !ok2 {
			return
		}
		if s.Usage == nil {
			s.Usage = &Usage{}
		}
		s.Usage.Input += in
		s.Usage.Output += out
		cr, _ := attrInt(sp.Attrs, "gen_ai.usage.cache_read.input_tokens")
		cc, _ := attrInt(sp.Attrs, "gen_ai.usage.cache_creation.input_tokens")
		s.Usage.CacheRead += cr
		s.Usage.CacheCreation += cc
	case "execute_tool":
		s.ToolCalls++
		if sp.Status == genai.StatusError {
			s.ToolErrors++
		}
	}
}

func (s *Summary) countModel(into *map[string]int, m string) {
	if *into == nil {
		*into = map[string]int{}
	}
	if len(*into) < 64 {
		(*into)[m]++
	}
}

func (s *Summary) finish(f File) {
	if !s.firstTurn.IsZero() {
		s.Started = s.firstTurn
	}
	if s.Started.IsZero() && !s.LastActivity.IsZero() {
		s.Started = s.LastActivity
	}
	models := s.models // model calls; else the turns' models (Cursor has no chat spans)
	if len(models) == 0 {
		models = s.turnModels
	}
	best := 0
	for m, n := range models {
		if n > best || (n == best && m < s.Model) {
			s.Model, best = m, n
		}
	}
	if s.Project == "" {
		a, _ := transcript.AgentByName(f.Agent)
		if p, ok := a.(transcript.Projector); ok {
			s.Project = p.Project(f.Path)
		}
	}
}

// title is the first line of a prompt (gen_ai.input.messages JSON), with a
// slash command's wrapper reduced to the command line (spans built before
// the builders did it themselves still carry the markup).
func title(messages string) string {
	if messages == "" {
		return ""
	}
	text := strings.TrimSpace(transcript.ReadablePrompt(firstText(messages)))
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	text = strings.Join(strings.Fields(text), " ")
	const maxTitle = 120
	if r := []rune(text); len(r) > maxTitle {
		text = string(r[:maxTitle-1]) + "…"
	}
	return text
}

// firstText is the first non-empty text part of semconv messages JSON.
func firstText(messages string) string {
	var msgs []genai.Message
	if json.Unmarshal([]byte(messages), &msgs) != nil {
		return ""
	}
	for _, m := range msgs {
		for _, p := range m.Parts {
			if p.Type == "text" && strings.TrimSpace(p.Content) != "" {
				return p.Content
			}
		}
	}
	return ""
}

func attrString(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			if kv.Value.Type() == attribute.STRING {
				return kv.Value.AsString()
			}
			return kv.Value.String()
		}
	}
	return ""
}

func attrInt(kvs []attribute.KeyValue, key string) (int64, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key && kv.Value.Type() == attribute.INT64 {
			return kv.Value.AsInt64(), true
		}
	}
	return 0, false
}

func resourceString(kvs []attribute.KeyValue, key string) string { return attrString(kvs, key) }
