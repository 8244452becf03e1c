package catalog

import (
	"cmp"
	"context"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// claudeSource: <ClaudeHome>/projects/<project folder>/<session>.jsonl.
// Subagent files (<session>/subagents/agent-*.jsonl, and the 2.0.x flat
// agent-*.jsonl beside the sessions) belong to their session and are found
// by the builder, not listed.
func claudeSource() source {
	return source{
		agent: claude.Agent{},
		home:  func(o Options) string { return cmp.Or(o.ClaudeHome, o.Homes[claude.Agent{}.Name()]) },
		owns: func(o Options, path string) bool {
			return strings.HasSuffix(path, ".jsonl") && !strings.Contains(filepath.ToSlash(path), "/agent-transcripts/")
		},
		session:    claudeSession,
		renderable: true,
		project:    func(line []byte) string { return jsonStringAfter(line, `"cwd":"`) },
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
