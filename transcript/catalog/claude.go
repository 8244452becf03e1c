package catalog

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// claudeSource: <ClaudeHome>/projects/<project folder>/<session>.jsonl.
// Subagent files (<session>/subagents/agent-*.jsonl, and the 2.0.x flat
// agent-*.jsonl beside the sessions) belong to their session and are found
// by the builder, not listed.
func claudeSource() source {
	return source{
		agent: genai.AgentClaudeCode,
		root: func(o Options) string {
			if o.ClaudeHome == "" {
				return ""
			}
			return filepath.Join(o.ClaudeHome, "projects")
		},
		list: listClaude,
		owns: func(o Options, path string) bool {
			return strings.HasSuffix(path, ".jsonl") && !strings.Contains(filepath.ToSlash(path), "/agent-transcripts/")
		},
		session: claudeSession,
		builder: func(o Options, f File) transcript.Builder {
			return claude.New(f.Session, claude.Options{TranscriptPath: f.Path, ClaudeHome: o.ClaudeHome,
				Logger: slog.New(slog.DiscardHandler)})
		},
		project: func(line []byte) string { return jsonStringAfter(line, `"cwd":"`) },
	}
}

func listClaude(root string, fn func(File)) {
	projects, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, p := range projects {
		if !p.IsDir() {
			continue
		}
		dir := filepath.Join(root, p.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".jsonl") || strings.HasPrefix(name, "agent-") {
				continue
			}
			path := filepath.Join(dir, name)
			fi, err := os.Stat(path) // follows a symlinked transcript
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			fn(File{Agent: genai.AgentClaudeCode, Session: strings.TrimSuffix(name, ".jsonl"), Path: path,
				Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
}

// claudeSession is the file name when it is a session id (as Claude Code
// names its transcripts), else the first sessionId recorded in the file.
func claudeSession(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if looksLikeUUID(stem) {
		return stem
	}
	id := ""
	n := 0
	_, _ = eachLine(context.Background(), path, func(line []byte) bool {
		n++
		id = jsonStringAfter(line, `"sessionId":"`)
		return id == "" && n < 2000
	})
	if id == "" {
		return stem
	}
	return id
}

func looksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
