package cursor

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
)

// Cursor transcripts (FORMATS.md 3.5) hold, per turn, a user line with the
// query (inside <user_query>, after an optional <timestamp>), assistant
// lines with text, thinking and tool_use blocks (no ids, no times, no
// usage), and since 2026 a {"type":"turn_ended","status":…} record. The old
// .txt format has "user:" / "assistant:" blocks with [Thinking], [Tool call]
// and [Tool result] markers. Either way the parser cuts the file into
// transcript turns, which are then matched to hook turns (align).

const maxTxTurnText = 4 << 20

type txRecord struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Status  string          `json:"status"`
	Error   json.RawMessage `json:"error"`
	Message *struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"message"`
}

type txBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
}

// txLine parses one transcript line; false means malformed.
func (b *Builder) txLine(path string, line []byte) bool {
	if strings.HasSuffix(strings.ToLower(path), ".txt") {
		b.txtLine(string(line))
		return true
	}
	line = bytes.TrimSpace(bytes.TrimPrefix(line, utf8BOM))
	if len(line) == 0 {
		return true
	}
	var r txRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return false
	}
	if r.Type == "turn_ended" {
		if cur := b.lastTx(); cur != nil && !cur.Ended {
			cur.Ended = true
			cur.Status = r.Status
			if s := rawString(r.Error); s != "" {
				cur.Error = prefix(s, 512)
			}
		}
		return true
	}
	role := r.Role
	if role == "" && r.Message != nil {
		role = r.Message.Role
	}
	if role == "" {
		role = r.Type
	}
	if r.Message == nil {
		return true // an unknown record type: ignored
	}
	blocks, dropped := contentBlocks(r.Message.Content)
	if dropped {
		b.st.Stats.TruncatedLines++
	}
	switch role {
	case "user", "human":
		var sb strings.Builder
		for _, bl := range blocks {
			if bl.Type == "text" || bl.Type == "" {
				if sb.Len() > 0 {
					sb.WriteByte('\n')
				}
				sb.WriteString(bl.Text)
			}
		}
		b.txUser(sb.String())
	case "assistant", "ai", "model":
		cur := b.txForAppend()
		for _, bl := range blocks {
			switch bl.Type {
			case "text", "":
				txAddPart(cur, "text", bl.Text, false)
			case "thinking", "reasoning", "redacted_thinking":
				txt := bl.Thinking
				if txt == "" {
					txt = bl.Text
				}
				if strings.TrimSpace(txt) != "[REDACTED]" {
					txAddPart(cur, "reasoning", txt, false)
				}
			case "tool_use", "tool_call":
				in := compactJSON(bl.Input)
				if len(in) > maxRefArgs {
					in = nil
				}
				if len(cur.Tools) < maxToolRefs {
					cur.Tools = append(cur.Tools, txTool{Name: bl.Name, Input: in})
				}
			}
		}
		if dropped {
			txAddPart(cur, "text", "[more content blocks not kept]", false)
		}
	}
	return true
}

func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// maxLineBlocks bounds the content blocks kept from one line: a million
// tiny blocks in one line would otherwise take many times its size.
const maxLineBlocks = 1024

// contentBlocks decodes message.content: a string or an array of blocks
// (blocks of unexpected shape are skipped), at most maxLineBlocks of them;
// dropped reports that there were more.
func contentBlocks(raw json.RawMessage) (out []txBlock, dropped bool) {
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] == '"' {
		return []txBlock{{Type: "text", Text: rawString(raw)}}, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, false
	}
	for dec.More() {
		if len(out) == maxLineBlocks {
			return out, true
		}
		var el json.RawMessage
		if dec.Decode(&el) != nil {
			return out, false
		}
		var bl txBlock
		if json.Unmarshal(el, &bl) == nil {
			out = append(out, bl)
		} else if s := rawString(el); s != "" {
			out = append(out, txBlock{Type: "text", Text: s})
		}
	}
	return out, false
}

// txUser handles the text of a user line: a new query opens a transcript
// turn; harness-injected lines (<dynamic_tools>, reminders) and a query
// re-written after a mid-turn compaction do not.
func (b *Builder) txUser(text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	q, ok := userQuery(text)
	cur := b.lastTx()
	if ok {
		if cur != nil && !cur.Ended && norm(cur.Prompt) == norm(q) {
			return
		}
		b.newTx(q)
		return
	}
	rest := strings.TrimSpace(stripTimestamp(text))
	if rest == "" || strings.HasPrefix(rest, "<") {
		return
	}
	if cur == nil || cur.Ended {
		b.newTx(rest)
	}
}

// userQuery extracts the text inside <user_query>…</user_query>.
func userQuery(text string) (string, bool) {
	i := strings.Index(text, "<user_query>")
	if i < 0 {
		return "", false
	}
	rest := text[i+len("<user_query>"):]
	if j := strings.Index(rest, "</user_query>"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest), true
}

func stripTimestamp(text string) string {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "<timestamp>") {
		if j := strings.Index(t, "</timestamp>"); j >= 0 {
			return t[j+len("</timestamp>"):]
		}
	}
	return t
}

func (b *Builder) lastTx() *txTurn {
	if n := len(b.st.Tx.Turns); n > 0 {
		return b.st.Tx.Turns[n-1]
	}
	return nil
}

func (b *Builder) newTx(prompt string) *txTurn {
	tx := &b.st.Tx
	if cur := b.lastTx(); cur != nil {
		cur.Ended = true // a new query: the previous turn is over
	}
	x := &txTurn{Idx: tx.Count, Prompt: capText(prompt)}
	tx.Count++
	tx.Turns = append(tx.Turns, x)
	return x
}

// txForAppend returns the transcript turn assistant output belongs to
// (an anonymous one when the file starts mid-turn or after turn_ended).
func (b *Builder) txForAppend() *txTurn {
	if cur := b.lastTx(); cur != nil && (!cur.Ended || cur.Status == "" && len(cur.Parts) == 0 && len(cur.Tools) == 0) {
		return cur
	}
	return b.newTx("")
}

func txAddPart(x *txTurn, typ, text string, join bool) {
	if strings.TrimSpace(text) == "" && !join {
		return
	}
	if x.Bytes+len(text) > maxTxTurnText {
		return
	}
	x.Bytes += len(text)
	if join {
		if n := len(x.Parts); n > 0 && x.Parts[n-1].Type == typ {
			x.Parts[n-1].Content += "\n" + text
			return
		}
		if strings.TrimSpace(text) == "" {
			return
		}
	}
	x.Parts = append(x.Parts, genai.Part{Type: typ, Content: text})
}

// txtLine parses one line of the old plain-text transcript format.
func (b *Builder) txtLine(line string) {
	tx := &b.st.Tx
	line = strings.ToValidUTF8(strings.TrimRight(line, "\r"), "\uFFFD")
	switch strings.TrimSpace(line) {
	case "user:":
		tx.Role, tx.Mode, tx.UserBuf = "user", "", ""
		return
	case "assistant:":
		if tx.Role == "user" {
			b.txUser(tx.UserBuf)
			tx.UserBuf = ""
		}
		tx.Role, tx.Mode = "assistant", ""
		return
	}
	switch tx.Role {
	case "user":
		if len(tx.UserBuf)+len(line) < maxText {
			tx.UserBuf += line + "\n"
		}
		return
	case "assistant":
	default:
		return
	}
	cur := b.txForAppend()
	switch {
	case strings.HasPrefix(line, "[Thinking]"):
		tx.Mode = "thinking"
		txAddPart(cur, "reasoning", strings.TrimSpace(strings.TrimPrefix(line, "[Thinking]")), false)
		if n := len(cur.Parts); n == 0 || cur.Parts[n-1].Type != "reasoning" {
			cur.Parts = append(cur.Parts, genai.Part{Type: "reasoning"})
		}
		return
	case strings.HasPrefix(line, "[Tool call]"):
		tx.Mode = "tool"
		if len(cur.Tools) < maxToolRefs {
			cur.Tools = append(cur.Tools, txTool{Name: strings.TrimSpace(strings.TrimPrefix(line, "[Tool call]"))})
		}
		return
	case strings.HasPrefix(line, "[Tool result]"):
		tx.Mode = "result"
		return
	}
	switch tx.Mode {
	case "tool":
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.HasPrefix(line, " ") && len(cur.Tools) > 0 {
			tc := &cur.Tools[len(cur.Tools)-1]
			if len(tc.Args) < 64 {
				tc.Args = append(tc.Args, [2]string{k, v})
				tc.Input = orderedObject(tc.Args)
			}
			return
		}
		if strings.TrimSpace(line) == "" {
			return
		}
		tx.Mode = "text"
		txAddPart(cur, "text", line, false)
	case "result":
		if strings.TrimSpace(line) == "" {
			tx.Mode = "after-result"
		}
	case "thinking":
		if strings.TrimSpace(line) == "" {
			tx.Mode = "after-thinking"
			return
		}
		txAddPart(cur, "reasoning", line, true)
	case "text":
		txAddPart(cur, "text", line, true)
	default: // "", "after-result", "after-thinking"
		if strings.TrimSpace(line) == "" {
			return
		}
		tx.Mode = "text"
		txAddPart(cur, "text", line, false)
	}
}

// orderedObject encodes key/value pairs as a JSON object in their order.
func orderedObject(kv [][2]string) json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range kv {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(p[0])
		v, _ := json.Marshal(p[1])
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// --- matching transcript turns to hook turns ---

// lowBound is the highest transcript index claimed by a hook turn before t.
func (b *Builder) lowBound(t *turn) int {
	low := b.st.Tx.Next - 1
	for _, o := range b.st.Turns {
		if o == t {
			break
		}
		if o.Tx > low {
			low = o.Tx
		}
	}
	return low
}

// highBound is the lowest transcript index claimed by a hook turn after t.
func (b *Builder) highBound(t *turn) int {
	high := math.MaxInt
	after := false
	for _, o := range b.st.Turns {
		if o == t {
			after = true
			continue
		}
		if after && o.Tx >= 0 && o.Tx < high {
			high = o.Tx
		}
	}
	return high
}

// align matches hook turns that have a prompt to the transcript turn with
// the same query, in order.
func (b *Builder) align() {
	for _, t := range b.st.Turns {
		if t.Close || t.Tx >= 0 || t.Prompt == "" {
			continue
		}
		want := norm(t.Prompt)
		low := b.lowBound(t)
		for _, x := range b.st.Tx.Turns {
			if x.Idx <= low || x.Claimed != "" {
				continue
			}
			if promptMatch(want, norm(x.Prompt)) {
				x.Claimed, t.Tx = t.Key, x.Idx
				break
			}
		}
	}
}

func promptMatch(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	short, long := a, b
	if len(short) > len(long) {
		short, long = long, short
	}
	return len(short) >= 16 && strings.Contains(long, short)
}

// txFor returns the transcript turn of t: the one it claimed, or for a turn
// without a prompt (headless runs) the best candidate so far.
func (b *Builder) txFor(t *turn) *txTurn {
	if t.Tx >= 0 {
		for _, x := range b.st.Tx.Turns {
			if x.Idx == t.Tx {
				return x
			}
		}
		return nil
	}
	if t.Prompt != "" {
		return nil
	}
	return b.candidate(t)
}

// candidate picks, for a hook turn without a prompt, the unclaimed
// transcript turn between its neighbours' that shares the most tool calls
// with it (ties: the latest); with no shared tool call, only the newest
// transcript turn when it is the single candidate.
func (b *Builder) candidate(t *turn) *txTurn {
	low, high := b.lowBound(t), b.highBound(t)
	var best *txTurn
	bestScore, n := 0, 0
	for _, x := range b.st.Tx.Turns {
		if x.Idx <= low || x.Idx >= high || x.Claimed != "" {
			continue
		}
		n++
		if s := toolScore(t, x); s >= bestScore && s > 0 {
			best, bestScore = x, s
		}
	}
	if best != nil {
		return best
	}
	if n == 1 && len(t.Tools) == 0 && len(t.Afters) == 0 {
		if last := b.lastTx(); last != nil && last.Idx > low && last.Idx < high && last.Claimed == "" {
			return last
		}
	}
	return nil
}

func toolScore(t *turn, x *txTurn) int {
	score := 0
	for _, c := range x.Tools {
		cmd := argString(c.Input, "command")
		for _, r := range t.Tools {
			if r.Name == c.Name && (r.Command == "" || r.Command == cmd) {
				score++
				break
			}
		}
		if c.Name == "Shell" && cmd != "" {
			for _, a := range t.Afters {
				if a.Kind == "shell" && a.Command == cmd {
					score++
					break
				}
			}
		}
	}
	return score
}

// claim ties t to its transcript turn for good (when its span is built).
func (b *Builder) claim(t *turn) *txTurn {
	x := b.txFor(t)
	if x != nil && x.Claimed == "" {
		x.Claimed, t.Tx = t.Key, x.Idx
	}
	return x
}

// pruneTx forgets transcript turns no hook turn can still use: those
// claimed by a sent turn, and unclaimed ones older than a claimed one that
// no waiting hook turn could take (counted as orphans: transcript turns
// that never had hooks, such as turns from before the daemon ran). The
// newest transcript turn is always kept, since its lines may still come.
func (b *Builder) pruneTx() {
	tx := &b.st.Tx
	if len(tx.Turns) == 0 {
		return
	}
	state := map[string]bool{} // hook turn key -> closed
	maxClaimed := -1
	minLow := math.MaxInt
	for _, t := range b.st.Turns {
		state[t.Key] = t.Close
		if t.Tx > maxClaimed {
			maxClaimed = t.Tx
		}
		if !t.Close && t.Tx < 0 {
			if l := b.lowBound(t); l < minLow {
				minLow = l
			}
		}
	}
	last := tx.Turns[len(tx.Turns)-1]
	keep := tx.Turns[:0]
	for _, x := range tx.Turns {
		drop := false
		if x != last {
			if x.Claimed != "" {
				closed, ok := state[x.Claimed]
				drop = closed || !ok
			} else if x.Idx < maxClaimed && x.Idx <= minLow {
				drop = true
				b.st.Orphans++
			}
		}
		if !drop {
			keep = append(keep, x)
		}
	}
	for len(keep) > maxTxTurns {
		if keep[0].Claimed == "" {
			b.st.Orphans++
		}
		keep = keep[1:]
	}
	tx.Turns = keep
	if len(keep) > 0 {
		tx.Next = keep[0].Idx
	} else {
		tx.Next = tx.Count
	}
}
