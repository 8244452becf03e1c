package claude

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
)

// Options.DropContent (the daemon's `content = "metadata"` mode) keeps
// prompts, answers, thinking, tool inputs and results out of the builder's
// persisted state: dropContent runs before every MarshalState, on the live
// state too, so a restored builder and a live one behave alike. Spans never
// carry content in that mode (the daemon drops the attributes); the state
// only needed text for two things, both kept as digests:
//   - matching a response against another text (a Stop hook's
//     last_assistant_message, a Task tool's result): answers and result texts
//     become textDigest values that answerMatches compares;
//   - subagent lines buffered until their Agent tool call shows up: text
//     values in them become digests too (tool_result texts become empty,
//     so a buffered rejected tool call is reported as a plain error).

// digestPrefix starts a text replaced by its digest. A NUL never occurs in
// text decoded from a transcript line's JSON string, so it cannot collide.
const digestPrefix = "\x00digest:"

// digestHead is how much of a text's start answerMatches compares when the
// texts differ in length (the third rule of answerMatches).
const digestHead = 100

// textDigest returns a fingerprint of s (trimmed) that answerMatches can
// compare with another text or digest: length, hash of the whole, hash of
// the first digestHead bytes.
func textDigest(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || isDigest(s) {
		return s
	}
	return digestPrefix + strconv.Itoa(len(s)) + ":" + shortHash(s) + ":" + shortHash(s[:min(len(s), digestHead)])
}

func isDigest(s string) bool { return strings.HasPrefix(s, digestPrefix) }

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// digestParts splits a digest (or digests a text): length, whole, head.
func digestParts(s string) (n int, whole, head string) {
	d := textDigest(s)
	f := strings.Split(strings.TrimPrefix(d, digestPrefix), ":")
	if len(f) != 3 {
		return 0, "", ""
	}
	n, _ = strconv.Atoi(f[0])
	return n, f[1], f[2]
}

// digestMatches is answerMatches when either side is a digest: equal texts,
// or equal first digestHead bytes with got at least that long. (The prefix
// rule for a got shorter than digestHead cannot be decided from digests.)
func digestMatches(got, want string) bool {
	gn, gw, gh := digestParts(got)
	wn, ww, wh := digestParts(want)
	if gw == "" || ww == "" {
		return false
	}
	if gw == ww {
		return true
	}
	n := min(wn, digestHead)
	return gn >= n && gn >= digestHead && wn >= digestHead && gh == wh
}

// dropContent replaces the content held in the state by nothing or digests.
func (st *state) dropContent() {
	for _, t := range st.Turns {
		t.Prompt = emptyParts(t.Prompt)
		t.StopText = textDigest(t.StopText)
		t.StatusMsg = ""
		for i := range t.APIErrors {
			t.APIErrors[i].Message = ""
		}
		for _, c := range t.Compactions {
			c.Summary = ""
		}
		t.Th.dropContent()
	}
	for _, a := range st.Agents {
		a.Desc, a.StatusMsg = "", ""
		a.Prompt = emptyParts(a.Prompt)
		a.System, a.Tools = nil, nil
		for i, l := range a.Buffer {
			a.Buffer[i] = scrubLine(l)
		}
		a.Th.dropContent()
	}
	for _, at := range st.AgentTools {
		at.Desc = ""
		at.ResultText = textDigest(at.ResultText)
	}
	for _, h := range st.HookTools {
		h.Error = ""
	}
	if st.Compact != nil {
		st.Compact.Summary = ""
	}
	st.System, st.Tools, st.Shapes = nil, nil, nil
}

func (th *thread) dropContent() {
	if len(th.Answer) > 0 {
		th.Answer = []string{textDigest(strings.Join(th.Answer, "\n"))}
	}
	for _, m := range th.Msgs {
		m.Parts = emptyParts(m.Parts)
	}
	for _, tc := range th.Pending {
		tc.Args, tc.Result = nil, ""
	}
}

// emptyParts keeps each part's type, id and name: its text, arguments and
// response go.
func emptyParts(ps []genai.Part) []genai.Part {
	for i := range ps {
		ps[i].Content, ps[i].Arguments, ps[i].Response = "", nil, nil
	}
	return ps
}

// textKeys hold model or user text in a transcript line: replaced by digests.
var textKeys = map[string]bool{"text": true, "thinking": true, "summary": true}

// dropKeys hold content that nothing but the spans' content attributes use.
var dropKeys = map[string]bool{"input": true, "toolUseResult": true, "signature": true, "data": true,
	"description": true, "prompt": true, "source": true}

// scrubLine removes content from one raw transcript line, keeping its
// structure (types, ids, usage, timestamps). A line that does not decode is
// dropped whole: it would not have parsed anyway.
func scrubLine(l string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(l))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return "{}"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(scrubValue("", v)) != nil {
		return "{}"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func scrubValue(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch {
			case dropKeys[k]:
				if _, obj := e.(map[string]any); obj {
					x[k] = map[string]any{}
				} else {
					x[k] = ""
				}
			default:
				x[k] = scrubValue(k, e)
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = scrubValue(key, e)
		}
		return x
	case string:
		switch {
		case textKeys[key]:
			return textDigest(x)
		case key == "content":
			return "" // a prompt or a tool result given as a string
		}
		return x
	}
	return v
}
