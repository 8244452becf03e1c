package genai

import (
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/attribute"
)

// Keys that backends read and semconv v1.41.0 does not define.
const (
	// ConversationNameKey is the conversation's title (Weave's agents view
	// lists conversations by it).
	ConversationNameKey = attribute.Key("gen_ai.conversation.name")
	// SessionIDKey repeats the conversation id where Langfuse and Phoenix
	// look for it to group traces into sessions.
	SessionIDKey = attribute.Key("session.id")

	// W&B Weave draws a compaction card from these, on the invoke_agent
	// span of the turn where the compaction happened.
	WeaveCompactionSummaryKey     = attribute.Key("weave.compaction.summary")
	WeaveCompactionItemsBeforeKey = attribute.Key("weave.compaction.items_before")
	WeaveCompactionItemsAfterKey  = attribute.Key("weave.compaction.items_after")
)

// Provider names (gen_ai.provider.name).
const (
	ProviderAnthropic = "anthropic"
	ProviderBedrock   = "aws.bedrock"
	ProviderVertex    = "gcp.vertex_ai"
	ProviderGemini    = "gcp.gemini" // the Gemini API (AI Studio)
)

// AnthropicProvider tells from a Claude model id which service served it:
// Bedrock ids look like "us.anthropic.claude-…-v1:0" or are ARNs, Vertex ids
// carry an "@" version ("claude-sonnet-4-5@20250929"); anything else is
// Anthropic's own API.
func AnthropicProvider(model string) string {
	switch {
	case strings.HasPrefix(model, "arn:aws:bedrock:"),
		strings.HasPrefix(model, "anthropic."),
		strings.Contains(model, ".anthropic."):
		return ProviderBedrock
	case strings.Contains(model, "@"):
		return ProviderVertex
	}
	return ProviderAnthropic
}

// maxTitle is the longest conversation title, in characters.
const maxTitle = 80

// Title makes a conversation title from its first prompt, as the user typed
// it (a builder turns slash-command markup into the command line first, see
// transcript.ReadablePrompt): the first non-empty line with any remaining
// markup removed, at most 80 characters. It is "" when nothing is left.
func Title(prompt string) string {
	var line string
	for l := range strings.Lines(stripTags(prompt)) {
		if l = strings.TrimSpace(l); l != "" {
			line = l
			break
		}
	}
	line = strings.Join(strings.FieldsFunc(line, unicode.IsSpace), " ")
	if r := []rune(line); len(r) > maxTitle {
		line = strings.TrimSpace(string(r[:maxTitle-1])) + "…"
	}
	return line
}

// MetadataTitle is the title in metadata mode, where no prompt text may be
// sent: "<project folder> · <date>" (the date in UTC).
func MetadataTitle(cwd string, start time.Time) string {
	var parts []string
	if cwd != "" {
		if base := filepath.Base(filepath.Clean(cwd)); base != "." && base != string(filepath.Separator) {
			parts = append(parts, base)
		}
	}
	if !start.IsZero() {
		parts = append(parts, start.UTC().Format(time.DateOnly))
	}
	return strings.Join(parts, " · ")
}

// stripTags removes XML-like tags (<name …>, </name>), keeping their text.
func stripTags(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var sb strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 || !isTag(s[i+1:i+j]) {
			sb.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		sb.WriteString(s[:i])
		sb.WriteByte(' ')
		s = s[i+j+1:]
	}
	sb.WriteString(s)
	return sb.String()
}

// isTag reports whether the text between < and > is a tag: an optional "/"
// then a name of letters, digits, "-" and "_", then attributes.
func isTag(s string) bool {
	s = strings.TrimPrefix(s, "/")
	s = strings.TrimSuffix(s, "/")
	name, _, _ := strings.Cut(s, " ")
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
