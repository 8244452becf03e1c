// Package redact masks secrets in what the agents write (hook payloads,
// transcript lines, span attributes), applies the content mode and caps
// attribute size. It is pure: no I/O, no state beyond the compiled rules.
package redact

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
)

// secretRule is one built-in secret shape. literal is a cheap substring test
// run before the regexp (most text holds no secret at all).
type secretRule struct {
	name    string
	literal []string // any of these must occur (case-sensitive) for re to run
	fold    bool     // test literals case-insensitively (ASCII; literals in lower case)
	need    string   // a window must also contain this to be worth the regexp
	re      *regexp.Regexp
	repl    string
}

// lead is the context a token secret may follow, captured and put back by
// the rules: a non-word byte, the start, a JSON escape (`\n`, `\t`, … in a
// raw transcript line: `\b` sees no boundary between the `n` and the
// secret) or an ANSI colour code, raw or JSON-escaped (`\u001b[31m`).
const lead = `(^|[^A-Za-z0-9_]|\\[nrtbf]|\x1b\[[0-9;]*m|\\u001[bB]\[[0-9;]*m)`

var builtinRules = []secretRule{
	// To the END line, or, when there is none (a key cut short, `head` of a
	// key file), to the end of the string: of the JSON string in a raw line.
	{name: "private-key", literal: []string{"PRIVATE KEY"},
		re: regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:(?:[^"\\]|\\.)*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?:[^"\\]|\\.)*)`), repl: "[REDACTED:private-key]"},
	// The lines of a key before its END, when its BEGIN is not in the same
	// string (a key printed across two transcript lines or two tool results).
	{name: "private-key-end", literal: []string{"PRIVATE KEY"},
		re: regexp.MustCompile(`(^|[^A-Za-z0-9+/=\\]|\\[nr])(?:[A-Za-z0-9+/=]+(?:\\r|\\n|\r|\n)+)+-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`), repl: "${1}[REDACTED:private-key]"},
	{name: "anthropic", literal: []string{"sk-ant-"},
		re: regexp.MustCompile(`sk-ant-[A-Za-z0-9_\-]{16,}`), repl: "[REDACTED:anthropic-key]"},
	{name: "openai", literal: []string{"sk-"},
		re: regexp.MustCompile(lead + `sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}`), repl: "${1}[REDACTED:openai-key]"},
	// After `_` (AWS_KEY_AKIA…) or a colour code's `m` too: only an upper
	// case letter or digit before it makes it part of a longer word.
	{name: "aws", literal: []string{"AKIA", "ASIA"},
		re: regexp.MustCompile(`(^|[^0-9A-Z])(?:AKIA|ASIA)[0-9A-Z]{16}\b`), repl: "${1}[REDACTED:aws-key]"},
	{name: "github", literal: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(lead + `(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`), repl: "${1}[REDACTED:github-token]"},
	{name: "slack", literal: []string{"xox"},
		re: regexp.MustCompile(lead + `xox[abposr]-[A-Za-z0-9\-]{10,}`), repl: "${1}[REDACTED:slack-token]"},
	{name: "npm", literal: []string{"npm_"},
		re: regexp.MustCompile(lead + `npm_[A-Za-z0-9]{36}`), repl: "${1}[REDACTED:npm-token]"},
	{name: "gitlab", literal: []string{"glpat-"},
		re: regexp.MustCompile(lead + `glpat-[A-Za-z0-9_\-]{20,}`), repl: "${1}[REDACTED:gitlab-token]"},
	{name: "huggingface", literal: []string{"hf_"},
		re: regexp.MustCompile(lead + `hf_[A-Za-z0-9]{30,}`), repl: "${1}[REDACTED:huggingface-token]"},
	// Secret and restricted keys; publishable keys (pk_) are public.
	{name: "stripe", literal: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"},
		re: regexp.MustCompile(lead + `[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`), repl: "${1}[REDACTED:stripe-key]"},
	{name: "slack-webhook", literal: []string{"hooks.slack.com"},
		re: regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{16,}`), repl: "hooks.slack.com/[REDACTED]"},
	{name: "google", literal: []string{"AIza"},
		re: regexp.MustCompile(lead + `AIza[0-9A-Za-z_\-]{35}`), repl: "${1}[REDACTED:google-key]"},
	{name: "bearer", literal: []string{"bearer"}, fold: true,
		re: regexp.MustCompile(`(?i)` + lead + `bearer\s+[A-Za-z0-9._~+/\-]{16,}=*`), repl: "${1}Bearer [REDACTED]"},
	// HTTP basic credentials: base64 of user:password, in a header.
	{name: "basic-auth", literal: []string{"authorization"}, fold: true,
		re: regexp.MustCompile(`(?i)(authorization:\s*)basic\s+[A-Za-z0-9+/]{8,}=*`), repl: "${1}Basic [REDACTED]"},
	// Other credentials in a header: Authorization: Token …, X-API-Key: ….
	{name: "auth-header", literal: []string{"authorization", "api-key", "auth-token"}, fold: true,
		re: regexp.MustCompile(`(?i)((?:authorization:\s*(?:token|apikey|api-key)|(?:x-)?api-key:|x-auth-token:)\s*)[A-Za-z0-9._~+/\-]{12,}=*`), repl: "${1}[REDACTED]"},
	// A JSON Web Token anywhere (not only after "Bearer"): two base64url
	// JSON objects, `{"` encoding to eyJ, and the signature (empty for alg none).
	// The literal is the payload's start: "ey" alone is in every "key" and
	// "they". A header longer than the window is left in part (it is no
	// secret: the algorithm and key id).
	{name: "jwt", literal: []string{".eyJ"},
		re: regexp.MustCompile(`(?:eyJ[A-Za-z0-9_\-]*)?\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*`), repl: "[REDACTED:jwt]"},
	// MySQL clients (mysql, mysqldump, mysqladmin, …) take the password
	// glued to -p: -pPW, -p'a b'. A -p and a space asks for it. (MariaDB's
	// own names are not anchored: "ma" and "ar" are in every other English
	// word, and that cost 2 % of the throughput on transcripts.)
	{name: "mysql-password", literal: []string{"mysql"},
		re: regexp.MustCompile(`(\bmysql[a-z\-]*\s(?:[^\s|;&<>]+\s+)*?-p)(?:'[^'\n]*'|"[^"\n]*"|\\"[^"\\\n]*\\"|[^\s'"\\;|&<>]+)`), repl: "${1}[REDACTED]"},
	// curl -u user:password, --user user:password, quoted or not (the
	// user is kept). Groups: 1 the command up to the flag; 2/3 a single
	// quote and the user, 4/5 a double quote, 6/7 an escaped one (a raw
	// JSON line), 8 an unquoted user.
	{name: "curl-user", literal: []string{"curl"},
		re:   regexp.MustCompile(`(\bcurl\s(?:[^\s|;&<>]+\s+)*?(?:-u\s*|--user[\s=]+))(?:(')([^'\s:]*):[^'\n\\]+'|(")([^"\s:]*):[^"\n\\]+"|(\\")([^"\\\s:]*):[^"\n\\]+\\"|([^\s'"\\:\-][^\s'"\\:]*):[^\s'"\\;|&<>]+)`),
		repl: "${1}${2}${3}${4}${5}${6}${7}${8}:[REDACTED]${2}${4}${6}"},
	// The signature, credential and session token of presigned S3 and GCS
	// URLs (or the same as headers), and an Azure SAS signature.
	{name: "signed-url", literal: []string{"x-amz-", "x-goog-"}, fold: true,
		re: regexp.MustCompile(`(?i)(x-(?:amz-(?:signature|credential|security-token)|goog-(?:signature|credential))(?:=|:\s*))[^&\s"'\\#<>]{8,}`), repl: "${1}[REDACTED]"},
	{name: "azure-sas", literal: []string{"&sig=", "?sig="},
		re: regexp.MustCompile(`([?&]sig=)[A-Za-z0-9%+/=_\-]{16,}`), repl: "${1}[REDACTED]"},
	// scheme://user:password@ with an empty user (redis://:pw@host), a
	// `/` or an `@` in the password (which RFC 3986 forbids but tools
	// accept: masked to the last `@` before the path). A password of digits
	// before a `/` is a port and a path (npm's https://host:443/@scope/pkg),
	// not credentials.
	{name: "url-credentials", literal: []string{"://"}, need: "@",
		re: regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s:@"'\\]*:(?:[0-9]+|[0-9]*[^\s@"'\\/0-9][^\s@"'\\]*)(?:@[^\s@"'\\/]*)*@`), repl: "${1}[REDACTED]@"},
}

// contentKeys are the span attributes that carry prompts, responses and tool
// input/output: metadata mode drops them.
var contentKeys = map[attribute.Key]bool{
	"gen_ai.input.messages":          true,
	"gen_ai.output.messages":         true,
	"gen_ai.system_instructions":     true,
	"gen_ai.tool.definitions":        true,
	"gen_ai.tool.call.arguments":     true,
	"gen_ai.tool.call.result":        true,
	"gen_ai.agent.description":       true, // a subagent's task, as the model wrote it
	"error.message":                  true,
	"claude_code.compaction.summary": true,
	"weave.compaction.summary":       true, // the same summary, where W&B Weave reads it
}

// contentFields are hook payload fields holding content (metadata mode).
var contentFields = []string{"prompt", "tool_input", "tool_response", "tool_output", "last_assistant_message",
	"text", "output", "result_json", "edits", "custom_instructions", "message", "error", "error_message",
	"summary", "task", "command", "compact_summary"}

// Redactor masks secrets, applies the content mode and caps attribute size.
// It runs before anything is written to the spool.
type Redactor struct {
	rules   []secretRule
	anchors [256][]anchor // the literals of rules and secret names, by first byte
	// Bit sets of byte pairs (both cases when folded): first, the first two
	// bytes of the anchors; second, their second and third; either, both.
	first, second, either [1 << 10]uint64
	metadata              bool
	maxAttr               int
}

// anchor is a literal the one-pass scan looks for.
type anchor struct {
	lit  string
	rule int // index in rules, nameAnchor or escapeAnchor
	fold bool
	// The literal's first 8 bytes (fewer when shorter) as a little-endian
	// word, for a one-load test where 8 bytes of text remain: the text's word
	// OR low (0x20 on the letters of a folded literal: upper case becomes
	// lower, and no other byte becomes a lower case letter) AND mask
	// (the bytes the literal has) equals head.
	head, mask, low uint64
}

// newAnchor fills in a's word test (see anchor).
func newAnchor(a anchor) anchor {
	for i := 0; i < len(a.lit) && i < 8; i++ {
		c := a.lit[i]
		a.head |= uint64(c) << (8 * i)
		a.mask |= 0xff << (8 * i)
		if a.fold && c >= 'a' && c <= 'z' {
			a.low |= 0x20 << (8 * i)
		}
	}
	return a
}

// at reports whether a's literal starts s.
func (a *anchor) at(s string) bool {
	if len(s) < 8 {
		return hasPrefix(s, a.lit, a.fold)
	}
	if (binary.LittleEndian.Uint64([]byte(s[:8]))|a.low)&a.mask != a.head {
		return false
	}
	return len(a.lit) <= 8 || hasPrefix(s[8:], a.lit[8:], a.fold)
}

// New builds the redactor from the config (extra patterns from
// `redact`, `content`, `max_attribute_bytes`).
func New(c *config.Config) (*Redactor, error) {
	r := &Redactor{rules: append([]secretRule(nil), builtinRules...), metadata: c.Content == "metadata", maxAttr: c.MaxAttributeBytes}
	for _, p := range c.Redact {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %q: %w", p, err)
		}
		r.rules = append(r.rules, secretRule{name: "custom", re: re, repl: "[REDACTED]"})
	}
	if r.maxAttr <= 0 {
		r.maxAttr = config.DefaultMaxAttributeBytes
	}
	cases := func(c byte, fold bool) []byte {
		if fold && c >= 'a' && c <= 'z' {
			return []byte{c, c - 'a' + 'A'}
		}
		return []byte{c}
	}
	set := func(bits *[1 << 10]uint64, c0, c1 byte, fold bool) {
		for _, c0 := range cases(c0, fold) {
			for _, c1 := range cases(c1, fold) {
				k := uint(c0)<<8 | uint(c1)
				bits[k>>6] |= 1 << (k & 63)
				r.either[k>>6] |= 1 << (k & 63)
			}
		}
	}
	add := func(a anchor) {
		a = newAnchor(a)
		for _, c0 := range cases(a.lit[0], a.fold) {
			r.anchors[c0] = append(r.anchors[c0], a)
		}
		set(&r.first, a.lit[0], a.lit[1], a.fold)
		if len(a.lit) > 2 {
			set(&r.second, a.lit[1], a.lit[2], a.fold)
			return
		}
		for c := range 256 { // lit[1] followed by anything
			set(&r.second, a.lit[1], byte(c), a.fold)
		}
	}
	for i, rule := range r.rules {
		for _, l := range rule.literal {
			add(anchor{lit: l, rule: i, fold: rule.fold})
		}
	}
	for _, w := range secretNames {
		add(anchor{lit: w, rule: nameAnchor, fold: true})
	}
	for _, e := range []string{`\u00`, `\/`} {
		add(anchor{lit: e, rule: escapeAnchor})
	}
	return r, nil
}

// hit is where an anchor's literal occurs: s[lo:hi].
type hit struct{ lo, hi int }

// scanned is what one pass over a string found.
type scanned struct {
	rules   [][]hit // by rule index
	names   []hit   // secret names, in order
	escaped bool    // s has an escape that may hide a secret (unescapeASCII)
}

// anchor.rule of the literals that are no rule's.
const (
	nameAnchor   = -1 // a secret name (maskAssignments)
	escapeAnchor = -2 // `\u00` or `\/`
)

// scan finds every anchor in s in one pass. Every anchor is 2 bytes or
// more, so each occurrence has its first or second byte pair at an even
// offset (the second of a 2-byte anchor: its last byte and any other): the
// pass tests only the pair at each even offset, a bit test, and where the
// pair can be an anchor's first or second, the anchors starting there or one
// byte before. (Searching each literal with
// strings.Index took a pass per literal, slow on common first letters.)
func (r *Redactor) scan(s string) scanned {
	var sc scanned
	for i := 0; i+1 < len(s); i += 2 {
		k := uint16(s[i])<<8 | uint16(s[i+1])
		if r.either[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		if i > 0 && r.second[k>>6]&(1<<(k&63)) != 0 {
			r.match(&sc, s, i-1)
		}
		if r.first[k>>6]&(1<<(k&63)) != 0 {
			r.match(&sc, s, i)
		}
	}
	if n := len(s); n > 1 && n%2 == 1 { // a 2-byte anchor in the last two bytes
		if k := uint16(s[n-1]) << 8; r.second[k>>6]&(1<<(k&63)) != 0 {
			r.match(&sc, s, n-2)
		}
	}
	return sc
}

// match records the anchors that start s at offset i.
func (r *Redactor) match(sc *scanned, s string, i int) {
	at := s[i:]
	for j := range r.anchors[at[0]] {
		a := &r.anchors[at[0]][j]
		if !a.at(at) {
			continue
		}
		h := hit{i, i + len(a.lit)}
		switch a.rule {
		case nameAnchor:
			sc.names = append(sc.names, h)
			continue
		case escapeAnchor:
			sc.escaped = true
			continue
		}
		if sc.rules == nil {
			sc.rules = make([][]hit, len(r.rules))
		}
		sc.rules[a.rule] = append(sc.rules[a.rule], h)
	}
}

// hasPrefix reports whether s starts with lit, ASCII case-insensitively when
// fold (lit is then lower case).
func hasPrefix(s, lit string, fold bool) bool {
	if len(s) < len(lit) {
		return false
	}
	if !fold {
		return s[:len(lit)] == lit
	}
	for i := 0; i < len(lit); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

// String masks every secret in s.
//
// Most text holds no secret, and long tool outputs are common, so a rule's
// regexp runs only on windows around the occurrences of its literals (widened
// to the surrounding token boundaries), never over the whole string; rules
// without literals (user patterns) and private keys run on the whole string.
//
// A secret can hide behind escapes that a JSON decoder (the builder's, or a
// reader of the span) undoes: `\u0041KIA…`, `postgres:\/\/…`, or the same
// escaped twice in JSON inside a JSON string. When s has such escapes the
// rules run first on s with them undone (unescapeASCII); when that finds a
// secret the result is that text, masked, else s is masked as it is.
func (r *Redactor) String(s string) string {
	if len(s) < 8 {
		return s // too short to hold any secret we know
	}
	sc := r.scan(s)
	if sc.escaped {
		// Undone first: a rule on s could mask half a secret, the half
		// before an escape, and leave the rest unrecognisable.
		if plain, ok := unescapeASCII(s); ok {
			if m := r.mask(plain, r.scan(plain)); m != plain {
				return m
			}
		}
	}
	return r.mask(s, sc)
}

// unescapeASCII replaces each escape of a printable ASCII byte other than a
// quote or a backslash — `\u0041`, `\/` — with the byte, together with any
// backslashes before it (the same escape in JSON inside a JSON string). The
// result is valid JSON when s was, and decodes to the same text but for those
// escapes. ok is false when s has no such escape.
func unescapeASCII(s string) (string, bool) {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '\\')
		if k < 0 {
			break
		}
		i += k
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		c, n := byte(0), 0
		switch {
		case j < len(s) && s[j] == '/':
			c, n = '/', 1
		case j+5 <= len(s) && s[j] == 'u' && s[j+1] == '0' && s[j+2] == '0':
			if v, ok := hexByte(s[j+3], s[j+4]); ok && v >= 0x20 && v < 0x7f && v != '"' && v != '\\' {
				c, n = v, 5
			}
		}
		if n == 0 {
			i = j
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteByte(c)
		i = j + n
		last = i
	}
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// mask runs the rules over s, whose anchors are sc.
func (r *Redactor) mask(s string, sc scanned) string {
	for ri, rule := range r.rules {
		var out string
		switch {
		case len(rule.literal) == 0: // a user pattern: the whole string
			out = rule.re.ReplaceAllString(s, rule.repl)
		case sc.rules == nil || len(sc.rules[ri]) == 0:
			continue
		case strings.HasPrefix(rule.name, "private-key"): // spans lines: the whole string
			out = rule.re.ReplaceAllString(s, rule.repl)
		default:
			out = r.replaceInWindows(s, rule, sc.rules[ri])
		}
		if out != s {
			s = out
			sc = r.scan(s) // offsets moved (rare: a secret was found)
		}
	}
	return maskAssignments(s, sc.names)
}

// replaceInWindows runs rule's regexp on the windows around its hits.
func (r *Redactor) replaceInWindows(s string, rule secretRule, hits []hit) string {
	var b strings.Builder
	last, changed := 0, false
	for _, w := range literalWindows(s, hits) {
		part := s[w.lo:w.hi]
		if rule.need != "" && !strings.Contains(part, rule.need) {
			continue
		}
		rep := rule.re.ReplaceAllString(part, rule.repl)
		if rep == part {
			continue
		}
		if !changed {
			b.Grow(len(s))
			changed = true
		}
		b.WriteString(s[last:w.lo])
		b.WriteString(rep)
		last = w.hi
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretNames are the words that make NAME=value / "name": "value" a secret.
var secretNames = []string{"secret", "password", "passwd", "token", "api_key", "apikey", "access_key", "private_key"}

// maskAssignments masks the value of assignments whose name contains a
// secret word (DB_PASSWORD=…, "client_secret": "…", api_key: …), in .env,
// shell, YAML and JSON (also JSON inside a JSON string). A linear scan: the
// equivalent case-insensitive regexp ran at a few MB/s on tool output.
// A value must hold a letter (token counts such as "input_tokens": 1234 stay).
func maskAssignments(s string, names []hit) string {
	var masks []span
	off := 0
	for _, h := range names {
		if h.lo < off {
			continue // inside a name or value already handled
		}
		j := h.hi
		for j < len(s) && isNameChar(s[j]) { // rest of the name (DB_PASSWORD_FILE)
			j++
		}
		off = j
		name := s[h.lo:j]
		if j < len(s) && (s[j] == ' ' || s[j] == '\t') && isFlag(s, h.lo) {
			// A command-line flag and its value: --password 'a b'.
			if m, ok := flagValue(s, skip(s, j, " \t")); ok && !countName(name) {
				masks = append(masks, m)
				off = max(off, m.hi)
			}
			continue
		}
		j = skip(s, j, "\\\"' \t") // closing quote of a JSON key, spaces
		if j >= len(s) || (s[j] != '=' && s[j] != ':') {
			continue
		}
		op := j
		v := skip(s, j+1, " \t")
		j = skip(s, v, "\\\"'")
		k, letter := j, false
		for k < len(s) && !isValueEnd(s[k]) {
			if c := s[k]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '/' || c == '+' {
				letter = true
			}
			k++
		}
		q := s[v:j]
		if q != "" && k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			// A quoted value goes on to its closing quote: a passphrase
			// ("correct horse battery staple") is more than its first word.
			if e := quotedEnd(s, k, q[len(q)-1]); e > k {
				k, letter = e, true
			}
		}
		if k-j < 4 || !letter {
			off = max(off, k)
			continue
		}
		// Checked last, on the few values that would be masked.
		if countName(name) || q == "" && codeValue(s[j:k], s[h.lo:h.hi], codeLike(s, name, op)) {
			continue // tokenUsage = usage, token = document.querySelector(…), api_key: null
		}
		masks = append(masks, span{j, k})
		off = max(off, k)
	}
	if len(masks) == 0 {
		return s
	}
	slices.SortFunc(masks, func(a, b span) int { return a.lo - b.lo })
	var out strings.Builder
	out.Grow(len(s))
	last := 0
	for _, m := range masks {
		if m.lo < last {
			continue
		}
		out.WriteString(s[last:m.lo])
		out.WriteString("[REDACTED]")
		last = m.hi
	}
	out.WriteString(s[last:])
	return out.String()
}

// span is a part of a string to mask: s[lo:hi].
type span struct{ lo, hi int }

// flagValue is the value of a command-line flag with a secret name that
// starts at v (after the flag and its spaces): a quoted string (single,
// double or JSON-escaped double quotes) to its closing quote, or a bare word
// that holds a digit or a symbol. Another flag, a redirection, a variable, a
// path (--token-file ~/.tok) and a plain word ("use the --password flag")
// are no secret.
func flagValue(s string, v int) (span, bool) {
	if v >= len(s) {
		return span{}, false
	}
	for _, q := range []string{`\"`, `"`, `'`} {
		if strings.HasPrefix(s[v:], q) {
			lo := v + len(q)
			if e := quotedEnd(s, lo, q[len(q)-1]); e > lo && s[lo] != '$' {
				return span{lo, e}, true
			}
			return span{}, false
		}
	}
	if strings.IndexByte("-$<>|&(/.~", s[v]) >= 0 { // a flag, a variable, a path…
		return span{}, false
	}
	k, other := v, false
	for k < len(s) && !isValueEnd(s[k]) {
		if c := s[k]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			other = true
		}
		k++
	}
	return span{v, k}, other && k-v >= 4
}

// isFlag reports whether the name around s[i] is a command-line flag
// (--password, -token): it starts with a dash.
func isFlag(s string, i int) bool {
	for i > 0 && isNameChar(s[i-1]) {
		i--
	}
	return s[i] == '-'
}

// countName reports whether a name that starts with the secret word token
// is about model tokens: tokens, TOKENS_USED, tokenUsage, token_count,
// tokenizer (input_tokens: 12 and the like are already kept by the letter
// rule; these names also take variables and expressions in code).
func countName(name string) bool {
	if !hasPrefix(name, "token", true) {
		return false
	}
	rest := name[len("token"):]
	for rest != "" && (rest[0] == '_' || rest[0] == '-') {
		rest = rest[1:]
	}
	if hasPrefix(rest, "s", true) && (len(rest) == 1 || rest[1] == '_' || rest[1] == '-' || rest[0] == 's' && rest[1] >= 'A' && rest[1] <= 'Z') {
		return true
	}
	for _, w := range []string{"usage", "count", "limit", "budget", "iz"} {
		if hasPrefix(rest, w, true) {
			return true
		}
	}
	return false
}

// codeLike reports whether an assignment reads as code rather than as
// configuration: a name that is not all capitals (PASSWORD=…, DB_SECRET=…
// are settings whatever their value) and an operator set off by spaces
// (csrfToken = …, password: userPassword), as code is written and .env
// and shell lines (password=MyPassword) are not.
func codeLike(s, name string, op int) bool {
	if strings.ToUpper(name) == name {
		return false
	}
	spaced := func(c byte) bool { return c == ' ' || c == '\t' }
	return op+1 < len(s) && spaced(s[op+1]) || op > 0 && spaced(s[op-1])
}

// codeValue reports whether an unquoted value is code rather than a secret:
// a JSON or language literal (true, null, None), a call or a member
// (document.querySelector(…), anthropic_api_key(), state.TokenUsage), or a
// camelCase variable named after the secret word (csrfToken). Members and
// variables count only where the assignment reads as code (inCode, see
// codeLike): secret=Summer.Time in a .env file is a password. A digit or a
// symbol makes it a secret: passwords have them, names seldom.
func codeValue(v, word string, inCode bool) bool {
	switch v {
	case "true", "false", "null", "nil", "None", "undefined":
		return true
	}
	dots, lower, camel := 0, false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			camel = camel || lower
		case c == '_' || c == '$':
		case c == '.' && i > 0 && i+1 < len(v) && v[i-1] != '.':
			dots++
		case c == '(' && i > 0 && v[i-1] != '.':
			return true // a call: f(…)
		default:
			return false
		}
	}
	return inCode && (dots > 0 || camel && containsFold(v, word))
}

// containsFold reports whether s contains word, ASCII case-insensitively.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// quotedEnd is where the quoted value that reached a space at i closes: the
// next quote, or -1 when none comes before a line end, an escape or 256 bytes.
func quotedEnd(s string, i int, quote byte) int {
	for k := i; k < len(s) && k < i+256; k++ {
		switch s[k] {
		case quote:
			return k
		case '\\':
			if quote == '"' && k+1 < len(s) && s[k+1] == '"' {
				return k // \" closes a value quoted with \" in a raw JSON line
			}
			return -1
		case '\n', '\r':
			return -1
		}
	}
	return -1
}

func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\n', '\t', '\r', '"', '\'', '\\', ',', ';', '{', '}', '[', ']':
		return true
	}
	return false
}

func skip(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return i
}

const (
	windowBack = 128 // key names before a literal (DB_PASSWORD=…, https://user:pw@)
	windowFwd  = 160 // then on to the end of the token
	windowMax  = 16 << 10
)

// literalWindows returns the merged windows of s around hits, widened to
// token boundaries so a secret is never cut in two.
func literalWindows(s string, hits []hit) []hit {
	var wins []hit
	for _, h := range hits { // in order of position
		i := h.lo
		lo := max(0, i-windowBack)
		for lo > 0 && i-lo < windowBack+64 && !isBoundary(s[lo-1]) {
			lo--
		}
		hi := min(len(s), h.hi+windowFwd)
		for hi < len(s) && hi-i < windowMax && !isBoundary(s[hi]) {
			hi++
		}
		if n := len(wins); n > 0 && lo <= wins[n-1].hi {
			wins[n-1].lo = min(wins[n-1].lo, lo)
			wins[n-1].hi = max(wins[n-1].hi, hi)
		} else {
			wins = append(wins, hit{lo, hi})
		}
	}
	return wins
}

// isBoundary ends a token: secrets never contain these.
func isBoundary(c byte) bool {
	switch c {
	case ' ', '\n', '\t', '\r', '"', '\'', '\\', ',', ';', '<', '>', '`':
		return true
	}
	return false
}

// RedactJSON masks secrets inside a JSON document (patterns never match
// quotes or backslashes, so the document usually stays valid; when a user
// pattern breaks it, the strings are masked one by one) and, in metadata
// mode, replaces content fields. It never returns the input unmasked.
func (r *Redactor) RedactJSON(b []byte) []byte {
	out := r.Line(b)
	if r.metadata {
		var m map[string]json.RawMessage
		if json.Unmarshal(out, &m) == nil {
			for _, f := range contentFields {
				if _, ok := m[f]; ok {
					m[f] = json.RawMessage(`"[content omitted]"`)
				}
			}
			if nb, err := json.Marshal(m); err == nil {
				out = nb
			}
		}
	}
	return out
}

// Line masks the secrets in one JSON document (a transcript line, a hook
// payload) before anything else sees it, so no secret enters a builder's
// state, which is persisted in the spool with the spans. The result is
// valid JSON whenever the input was; an invalid input comes back masked as
// text.
func (r *Redactor) Line(b []byte) []byte {
	// s shares b's bytes (no copy of every transcript line): String returns
	// either s itself or a string of its own, and nothing keeps s.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	out := r.document(s)
	if out == s {
		return b
	}
	return []byte(out)
}

// document masks the secrets in one JSON document s (see Line); it returns s
// itself when there is nothing to mask.
func (r *Redactor) document(s string) string {
	out := r.String(s)
	if out == s {
		return s
	}
	if validJSON(out) || !validJSON(s) {
		return out
	}
	// A rule matched across a string's boundary: mask string by string.
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return out
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(r.value(v)) != nil {
		return out
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// validJSON is json.Valid on a string (the conversion is not copied).
func validJSON(s string) bool { return json.Valid([]byte(s)) }

// value masks every string (keys included) of a decoded JSON value.
func (r *Redactor) value(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[r.String(k)] = r.value(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = r.value(e)
		}
		return x
	case string:
		return r.String(x)
	}
	return v
}

// Span redacts a span in place: content mode, secrets, size cap.
func (r *Redactor) Span(s *genai.Span) {
	s.Attrs = r.attrs(s.Attrs)
	for i := range s.Events {
		s.Events[i].Attrs = r.attrs(s.Events[i].Attrs)
	}
	if r.metadata {
		s.StatusMessage = "" // an error's text may quote a tool's output
	} else {
		s.StatusMessage = r.capString(r.String(s.StatusMessage))
	}
}

func (r *Redactor) attrs(in []attribute.KeyValue) []attribute.KeyValue {
	out := in[:0]
	for _, kv := range in {
		if r.metadata && contentKeys[kv.Key] {
			continue
		}
		if kv.Value.Type() == attribute.STRING {
			kv = kv.Key.String(r.capValue(string(kv.Key), kv.Value.AsString()))
		}
		out = append(out, kv)
	}
	return out
}

// capValue masks and caps one string attribute. A GenAI JSON attribute is
// masked as a JSON document (a pattern never breaks it) and shortened inside
// its structure, never cut: backends drop an attribute that does not parse.
func (r *Redactor) capValue(key, v string) string {
	if genai.IsJSONAttr(key) {
		return genai.CapJSON(key, r.document(v), r.maxAttr)
	}
	return r.capString(r.String(v))
}

func (r *Redactor) capString(s string) string {
	if len(s) <= r.maxAttr {
		return s
	}
	cut := r.maxAttr
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[truncated %d bytes]", len(s)-cut)
}
