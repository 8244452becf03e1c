package genai

import (
	"strings"
	"testing"
	"time"
)

func TestAnthropicProvider(t *testing.T) {
	for model, want := range map[string]string{
		"claude-opus-4-6":            ProviderAnthropic,
		"claude-sonnet-4-5-20250929": ProviderAnthropic,
		"":                           ProviderAnthropic,
		"us.anthropic.claude-sonnet-4-5-20250929-v1:0":      ProviderBedrock,
		"anthropic.claude-3-5-sonnet-20240620-v1:0":         ProviderBedrock,
		"arn:aws:bedrock:us-east-1:123:inference-profile/x": ProviderBedrock,
		"claude-sonnet-4-5@20250929":                        ProviderVertex,
	} {
		if got := AnthropicProvider(model); got != want {
			t.Errorf("AnthropicProvider(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("word ", 30)
	for prompt, want := range map[string]string{
		"fix the failing test\nin ./daemon": "fix the failing test",
		"\n\n  say   hello  ":               "say hello",
		"<task-notification>\n<task-id>a1</task-id>\n<summary>done</summary></task-notification>": "a1",
		"is 1 < 2 and 3 > 2?": "is 1 < 2 and 3 > 2?",
		"<b>":                 "",
		long:                  strings.TrimSpace(long[:79]) + "…",
	} {
		if got := Title(prompt); got != want {
			t.Errorf("Title(%q) = %q, want %q", prompt, got, want)
		}
	}
}

func TestMetadataTitle(t *testing.T) {
	at := time.Date(2026, 11, 22, 23, 30, 0, 0, time.FixedZone("x", -3*3600))
	if got := MetadataTitle("/home/user/project/", at); got != "project · 2026-11-23" {
		t.Errorf("MetadataTitle = %q", got)
	}
	if got := MetadataTitle("", at); got != "2026-11-23" {
		t.Errorf("MetadataTitle without cwd = %q", got)
	}
}
