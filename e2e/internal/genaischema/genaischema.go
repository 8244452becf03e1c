// Package genaischema checks what a backend receives the way Langfuse and
// Phoenix read it: every GenAI JSON attribute of a received span
// (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions,
// gen_ai.tool.definitions) must parse and validate against the official
// OpenTelemetry schemas in ../shared/genai-schemas (see its PROVENANCE.md).
package genaischema

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	schemas "github.com/weave-agentd/weave-agentd/internal/genaischema"
)

// Files maps each GenAI JSON attribute to its schema file.
var Files = schemas.Files

// Validator holds the compiled schemas (the root module's validator, used
// here on what the receiver got).
type Validator struct {
	*schemas.Validator
}

// Load compiles the schemas beside the repository; the test is skipped
// when ../shared/genai-schemas is absent.
func Load(t testing.TB) *Validator {
	t.Helper()
	dir := filepath.Join(agentd.RepoRoot(), "..", "shared", "genai-schemas")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("GenAI schemas absent (%s)", dir)
	}
	v, err := schemas.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Validator{v}
}

// Report is what Spans checked.
type Report struct {
	Checked map[string]int // attributes validated, by key
	Largest map[string]int // largest value seen, bytes, by key
}

// Spans validates every GenAI JSON attribute of every span, reporting each
// failure (a value that is not a string, not JSON, not schema-valid, or
// larger than limit bytes when limit > 0) on t.
func (v *Validator) Spans(t testing.TB, spans []receiver.Span, limit int) Report {
	t.Helper()
	rep := Report{Checked: map[string]int{}, Largest: map[string]int{}}
	for _, s := range spans {
		keys := make([]string, 0, len(Files))
		for k := range s.Attributes {
			if _, ok := Files[k]; ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			val, ok := s.Attributes[k].(string)
			if !ok {
				t.Errorf("span %s %s: %s is a %T, want a JSON string", s.Name, s.SpanID, k, s.Attributes[k])
				continue
			}
			rep.Checked[k]++
			rep.Largest[k] = max(rep.Largest[k], len(val))
			if err := v.Validate(k, val); err != nil {
				t.Errorf("span %s %s: %v", s.Name, s.SpanID, err)
			}
			if limit > 0 && len(val) > limit {
				t.Errorf("span %s %s: %s is %d bytes, over max_attribute_bytes = %d", s.Name, s.SpanID, k, len(val), limit)
			}
		}
	}
	return rep
}
