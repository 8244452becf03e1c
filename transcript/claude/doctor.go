package claude

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// MinCleanupPeriodDays is the retention below which doctor warns: shorter
// than a long weekend with the daemon down, or than a backfill would need.
const MinCleanupPeriodDays = 7

// readSettings decodes the keys of <home>/settings.json that v names; ok
// is false when the file is missing or unreadable, err when it does not
// decode.
func readSettings(home string, v any) (path string, ok bool, err error) {
	path = filepath.Join(home, "settings.json")
	b, rerr := os.ReadFile(path)
	if rerr != nil {
		return path, false, nil
	}
	return path, true, json.Unmarshal(bytes.TrimPrefix(b, []byte("\ufeff")), v)
}

// CheckHooks: "disableAllHooks": true turns every hook off.
func (Agent) CheckHooks(home string) []transcript.Finding {
	var s struct {
		DisableAllHooks bool `json:"disableAllHooks"`
	}
	path, ok, err := readSettings(home, &s)
	if !ok || err != nil || !s.DisableAllHooks {
		return nil
	}
	return []transcript.Finding{{Warn: true,
		Message: "Claude Code runs no hooks (\"disableAllHooks\": true in its settings.json): only transcript tailing sees its sessions",
		Fix:     "remove disableAllHooks from " + path}}
}

// CheckTranscripts: cleanupPeriodDays (default 30) deletes transcripts.
func (Agent) CheckTranscripts(home string) []transcript.Finding {
	var s struct {
		CleanupPeriodDays *json.Number `json:"cleanupPeriodDays"`
	}
	path, ok, err := readSettings(home, &s)
	if !ok {
		return nil // no Claude Code settings: the default (30 days) applies
	}
	if err != nil || s.CleanupPeriodDays == nil {
		return []transcript.Finding{{Message: "Claude Code keeps transcripts for 30 days (default cleanupPeriodDays)"}}
	}
	days, err := s.CleanupPeriodDays.Float64()
	if err != nil {
		return nil
	}
	const fix = "set \"cleanupPeriodDays\" to 30 or more"
	switch {
	case days <= 0:
		return []transcript.Finding{{Warn: true, Fix: fix, Message: fmt.Sprintf("Claude Code's cleanupPeriodDays is %s in %s: transcripts are deleted (or not kept) right away, so whatever the daemon has not read yet is lost", s.CleanupPeriodDays, path)}}
	case days < MinCleanupPeriodDays:
		return []transcript.Finding{{Warn: true, Fix: fix, Message: fmt.Sprintf("Claude Code deletes transcripts after %s days (cleanupPeriodDays in %s): a daemon down longer, or a backfill, finds them gone", s.CleanupPeriodDays, path)}}
	}
	return []transcript.Finding{{Message: fmt.Sprintf("Claude Code keeps transcripts for %s days", s.CleanupPeriodDays)}}
}
