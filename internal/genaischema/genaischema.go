// Package genaischema validates the GenAI JSON attributes of spans against
// the official OpenTelemetry schemas in ../shared/genai-schemas (see its
// PROVENANCE.md), as Langfuse and Phoenix would read them. Only tests
// import it.
package genaischema

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// Files maps each JSON attribute to its schema file.
var Files = map[string]string{
	genai.InputMessagesKey:      "gen-ai-input-messages.json",
	genai.OutputMessagesKey:     "gen-ai-output-messages.json",
	genai.SystemInstructionsKey: "gen-ai-system-instructions.json",
	genai.ToolDefinitionsKey:    "gen-ai-tool-definitions.json",
}

// Validator holds the compiled schemas.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// Load compiles the schemas from ../shared/genai-schemas beside the module;
// the test is skipped when the folder is absent.
func Load(t testing.TB) *Validator {
	t.Helper()
	root := testkit.ModuleRoot(t)
	dir := filepath.Join(root, "..", "shared", "genai-schemas")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("GenAI schemas absent (%s)", dir)
	}
	v, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// LoadDir compiles the schemas found in dir.
func LoadDir(dir string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for key, file := range Files {
		s, err := c.Compile(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", file, err)
		}
		v.schemas[key] = s
	}
	return v, nil
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

// Attrs validates every GenAI JSON attribute among attrs and returns the
// errors (nil when all are valid) and how many it checked.
func (v *Validator) Attrs(attrs []attribute.KeyValue) (errs []error, checked int) {
	for _, kv := range attrs {
		if _, ok := v.schemas[string(kv.Key)]; !ok {
			continue
		}
		checked++
		if err := v.Validate(string(kv.Key), kv.Value.AsString()); err != nil {
			errs = append(errs, err)
		}
	}
	return errs, checked
}

// Spans validates every GenAI JSON attribute of every span, reporting each
// failure on t, and returns how many attributes it checked.
func (v *Validator) Spans(t testing.TB, spans []genai.Span) int {
	t.Helper()
	n := 0
	for _, s := range spans {
		errs, c := v.Attrs(s.Attrs)
		n += c
		for _, err := range errs {
			t.Errorf("span %s %s: %v", s.Name, s.SpanID, err)
		}
	}
	return n
}

// SpansAfter validates the spans as redact (the daemon's Redactor.Span with
// max_attribute_bytes = max) leaves them, on copies: every GenAI JSON
// attribute must match its schema and fit in max bytes. It returns how many
// attributes it checked.
func (v *Validator) SpansAfter(t testing.TB, spans []genai.Span, redact func(*genai.Span), max int) int {
	t.Helper()
	n := 0
	for _, s := range spans {
		c := s
		c.Attrs = slices.Clone(s.Attrs)
		c.Events = slices.Clone(s.Events)
		for i := range c.Events {
			c.Events[i].Attrs = slices.Clone(c.Events[i].Attrs)
		}
		redact(&c)
		errs, k := v.Attrs(c.Attrs)
		n += k
		for _, err := range errs {
			t.Errorf("span %s %s at max_attribute_bytes=%d: %v", s.Name, s.SpanID, max, err)
		}
		for _, kv := range c.Attrs {
			if _, ok := v.schemas[string(kv.Key)]; ok && len(kv.Value.AsString()) > max {
				t.Errorf("span %s %s: %s is %d bytes, over max_attribute_bytes=%d", s.Name, s.SpanID, kv.Key, len(kv.Value.AsString()), max)
			}
		}
	}
	return n
}
