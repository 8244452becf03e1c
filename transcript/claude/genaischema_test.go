package claude

import (
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/installer/config"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestGenAISchemas: every GenAI JSON attribute of every span built from the
// real transcripts (each fixture version, and the 2.1.328 runs replayed with
// their hooks) matches the official schema as built, and after the daemon's
// redaction and size cap at 4096 bytes and at the default.
func TestGenAISchemas(t *testing.T) {
	v := genaischema.Load(t)
	fx := testkit.Fixtures(t)
	scenarios := map[string]func(t *testing.T) []genai.Span{}
	for _, gc := range goldenCases {
		scenarios[gc.name] = func(t *testing.T) []genai.Span {
			session, opts, feed := loadCase(t, fx, gc)
			return runFeed(session, opts, feed)
		}
	}
	for _, dir := range liveDirs(t) {
		scenarios["2.1.328-"+filepath.Base(dir)] = func(t *testing.T) []genai.Span {
			session, opts, in := liveFeed(t, dir)
			return playLive(New(session, opts), in)
		}
	}
	seen := map[string]bool{}
	for name, build := range scenarios {
		t.Run(name, func(t *testing.T) {
			spans := build(t)
			for _, s := range spans {
				for _, kv := range s.Attrs {
					if genai.IsJSONAttr(string(kv.Key)) {
						seen[string(kv.Key)] = true
					}
				}
			}
			if n := v.Spans(t, spans); n == 0 {
				t.Fatal("no GenAI JSON attribute to check")
			}
			for _, max := range []int{4096, config.DefaultMaxAttributeBytes} {
				r, err := daemon.NewRedactor(&config.Config{MaxAttributeBytes: max})
				if err != nil {
					t.Fatal(err)
				}
				v.SpansAfter(t, spans, r.Span, max)
			}
		})
	}
	for key := range genaischema.Files {
		if !seen[key] {
			t.Errorf("no scenario has %s: the check proves nothing for it", key)
		}
	}
}
