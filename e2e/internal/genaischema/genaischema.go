// Package genaischema checks what a backend receives the way Langfuse and
// Phoenix read it: every GenAI JSON attribute of a received span
// (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions,
// gen_ai.tool.definitions) must parse and validate against the official
// OpenTelemetry schemas in ../shared/genai-schemas (see its PROVENANCE.md).
package genaischema

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// Files maps each GenAI JSON attribute to its schema file.
var Files = map[string]string{
	"gen_ai.input.messages":      "gen-ai-input-messages.json",
	"gen_ai.output.messages":     "gen-ai-output-messages.json",
	"gen_ai.system_instructions": "gen-ai-system-instructions.json",
	"gen_ai.tool.definitions":    "gen-ai-tool-definitions.json",
}

// Validator holds the compiled schemas.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// Load compiles the schemas beside the repository; the test is skipped
// when ../shared/genai-schemas is absent.
func Load(t testing.TB) *Validator {
	t.Helper()
	dir := filepath.Join(agentd.RepoRoot(), "..", "shared", "genai-schemas")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("GenAI schemas absent (%s)", dir)
	}
	c := jsonschema.NewCompiler()
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for key, file := range Files {
		s, err := c.Compile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("compile %s: %v", file, err)
		}
		v.schemas[key] = s
	}
	return v
}

// Validate checks one attribute value: valid JSON, and valid against the
// schema of key.
func (v *Validator) Validate(key, value string) error {
	s, ok := v.schemas[key]
	if !ok {
		return fmt.Errorf("%s: no schema for this key", key)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(value))
	if err != nil {
		return fmt.Errorf("%s is not valid JSON: %w", key, err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s does not match %s: %w\nvalue: %.400s", key, Files[key], err, value)
	}
	return nil
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
		keys := make([]string, 0, len(v.schemas))
		for k := range s.Attributes {
			if _, ok := v.schemas[k]; ok {
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
