package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/claudecli"
	"github.com/weave-agentd/weave-agentd/e2e/internal/crash"
	fa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeanthropic"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// relSecret is one secret and a distinctive piece of it that must never
// show up where the secret must not be. escaped, when set, is how the
// secret is written inside the JSON strings of the crafted transcripts and
// hook payloads (a JSON escape a decoder undoes), instead of as is.
type relSecret struct{ kind, value, tell, escaped string }

var relSecrets = []relSecret{
	{"anthropic", "sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm", "Zx9Qw8Er7Ty6Ui5Op4As3Df2", ""},
	{"openai", "sk-proj-Pq8Rs7Tu6Vw5Xy4Za3Bc2De1", "Pq8Rs7Tu6Vw5Xy4Za3Bc2De1", ""},
	{"aws", "AKIAQWERTYUIOPASDFGH", "QWERTYUIOPASDFGH", ""},
	{"github", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "aB3dE5fG7hI9jK1lM3nO5pQ7", ""},
	{"slack", "xoxb-1234567890-Mn8Bv7Cx6Zl5Kj4Hg3", "Mn8Bv7Cx6Zl5Kj4Hg3", ""},
	{"google", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "SyA1b2C3d4E5f6G7h8I9j0K", ""},
	{"private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7yn3bRHQ5FHMQzZq\nWt9Yk2Lm4Np6Rq8St0Uv\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7yn3bRHQ5FHMQzZq", ""},
	{"url-password", "postgres://admin:Sup3rS3cretPw0rd@db.internal:5432/app", "Sup3rS3cretPw0rd", ""},
	{"env-password", "DB_PASSWORD=Hunter2Hunter2Xyzzy", "Hunter2Hunter2Xyzzy", ""},
	{"bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.Qk9PTVNFQ1JFVFRPS0VO", "Qk9PTVNFQ1JFVFRPS0VO", ""},
	{"bare-jwt", "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXBsb3ktYm90IiwiZXhwIjoxOTk5OTk5OTk5fQ.Vq3Xr8Tn2Lm5Pk7Jh4Gf6Ds9Aa1Zz0Yy", "Vq3Xr8Tn2Lm5Pk7Jh4Gf6Ds9Aa1Zz0Yy", ""},
	{"redis-empty-user", "redis://:R3d1sPassw0rdQx@cache.internal:6379/0", "R3d1sPassw0rdQx", ""},
	{"url-password-slash", "postgres://deploy:Pa/ssW0rd9Kq@db.internal:5432/app", "Pa/ssW0rd9Kq", ""},
	{"aws-after-underscore", "AWS_KEY_AKIAZXCVBNMLKJHGFDSA", "ZXCVBNMLKJHGFDSA", ""},
	{"aws-ansi", "\x1b[31mASIAMNBVCXZLKJHGFDSP\x1b[0m", "MNBVCXZLKJHGFDSP", ""},
	{"aws-u-escaped", "AKIAPLMOKNIJBUHVYGCT", "PLMOKNIJBUHVYGCT", `\u0041KIAPLMOKNIJBUHVYGCT`},
	{"url-escaped-slashes", "mysql://root:Pl4inT3xtPassw0rd@db.internal/x", "Pl4inT3xtPassw0rd", `mysql:\/\/root:Pl4inT3xtPassw0rd@db.internal\/x`},
	// Last: with no END line it is masked to the end of its string.
	{"private-key-no-end", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oR7pLZ1T1gJ0oAoGCCqGSM49", "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpY", ""},
}

func relSecretText() string {
	var parts []string
	for _, s := range relSecrets {
		parts = append(parts, s.value)
	}
	return strings.Join(parts, " ; ")
}

// relLeaks names the secrets whose tell occurs in b, as is or JSON-escaped
// (`\/`, the first byte `\u`-escaped), each also base64-encoded
// (encoding/json writes []byte fields, such as a session record's builder
// state, in base64).
func relLeaks(b []byte) []string {
	var out []string
	for _, s := range relSecrets {
		if form, ok := relFind(b, s.tell); ok {
			out = append(out, s.kind+form)
		}
	}
	return out
}

// relFind reports whether tell occurs in b, and in which form.
func relFind(b []byte, tell string) (string, bool) {
	forms := []struct{ name, text string }{
		{"", tell},
		{` (\u-escaped)`, fmt.Sprintf(`\u%04x`, tell[0]) + tell[1:]},
		{` (\u-escaped)`, fmt.Sprintf(`\u%04X`, tell[0]) + tell[1:]},
		{` (\/-escaped)`, strings.ReplaceAll(tell, "/", `\/`)},
	}
	for _, f := range forms {
		if bytes.Contains(b, []byte(f.text)) {
			return f.name, true
		}
	}
	for _, f := range forms {
		for pad := 0; pad < 3; pad++ {
			enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), f.text...))
			if mid := enc[4 : len(enc)-4]; bytes.Contains(b, []byte(mid)) {
				return f.name + " (base64)", true
			}
		}
	}
	return "", false
}

// relSpansText is every span the receiver got, as text (attributes, status,
// events, resource).
func relSpansText(spans []receiver.Span) []byte {
	var b bytes.Buffer
	for _, s := range spans {
		j, _ := json.Marshal(s)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// relWithSecrets is a copy of a scenario whose prompt, tool command, tool
// output and answer (in the transcript and in the hook payloads) carry every
// secret of relSecrets.
func relWithSecrets(t *testing.T, s *crash.Session, marks ...string) *crash.Session {
	t.Helper()
	esc, _ := json.Marshal(" " + relSecretText())
	ins := string(esc[1 : len(esc)-1])
	for _, s := range relSecrets {
		if s.escaped != "" {
			ins = strings.Replace(ins, s.value, s.escaped, 1)
		}
	}
	out := *s
	rep := func(b []byte) []byte {
		for _, m := range marks {
			b = bytes.ReplaceAll(b, []byte(m), []byte(m+ins))
		}
		return b
	}
	out.Lines = nil
	for _, l := range s.Lines {
		out.Lines = append(out.Lines, crash.Line{File: l.File, Data: rep(l.Data)})
	}
	out.Hooks = nil
	for _, h := range s.Hooks {
		h.Payload = rep(h.Payload)
		out.Hooks = append(out.Hooks, h)
	}
	n := 0
	for _, l := range out.Lines {
		if bytes.Contains(l.Data, []byte(relSecrets[0].tell)) {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no line of %s took the secrets", s.Name)
	}
	return &out
}

// relSplit cuts a session after the first user line containing sub: the
// lines and hooks up to there, and the rest.
func relSplit(s *crash.Session, sub string) (*crash.Session, *crash.Session) {
	k := len(s.Lines)
	for i, l := range s.Lines {
		if bytes.Contains(l.Data, []byte(sub)) && bytes.Contains(l.Data, []byte(`"type":"user"`)) {
			k = i + 1
			break
		}
	}
	head, tail := *s, *s
	head.Lines, tail.Lines = s.Lines[:k], s.Lines[k:]
	head.Hooks, tail.Hooks, tail.Extra = nil, nil, nil
	for _, h := range s.Hooks {
		if h.At <= k {
			head.Hooks = append(head.Hooks, h)
		} else {
			h.At -= k
			tail.Hooks = append(tail.Hooks, h)
		}
	}
	return &head, &tail
}

// relStopAndReadSpool stops the daemon (so bbolt is closed) and returns the
// spool file's bytes (freed pages included: what a disk image would show).
func relStopAndReadSpool(t *testing.T, h *agentd.Home, d *agentd.Daemon) []byte {
	t.Helper()
	d.Stop()
	b, err := os.ReadFile(filepath.Join(h.Dir, "spool.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Redaction before the spool (DESIGN invariant 6) with real transcripts:
// the 2.1.328 "bash" session with ten kinds of secrets typed into the prompt,
// in the tool's command and output and in the answer — in the transcript and
// in the hook payloads — plus a malformed hook payload starting with a
// secret. No secret reaches the receiver, the bytes of the bbolt file
// (free pages included) or the daemon's log at debug level.
func TestSecretsNeverReachSpoolServerOrLogs(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\nlog_level = \"debug\"\n")
	d := h.StartDaemon()
	sess := relWithSecrets(t, relScenarios(t, "bash")[0], "run echo", "hello-from-bash")
	// As in real life, the daemon reads the prompt while the model still
	// thinks: feed up to the prompt, let the daemon commit, and look at the
	// spool file as a disk image would show it at that moment (the daemon
	// stopped, or killed, while a turn is open).
	head, tail := relSplit(sess, relSecrets[0].tell)
	relFeed(t, h, []*crash.Session{head})
	relFlush(t, h)
	if l := relLeaks(relStopAndReadSpool(t, h, d)); len(l) > 0 {
		t.Errorf("while a turn is open, secrets are in the spool file: %v — transcript lines reach the builder unredacted, "+
			"and its state (the open turn's prompt, tool arguments and results, answers) is committed to the spool as is", l)
	}
	d = h.StartDaemon()
	relFeed(t, h, []*crash.Session{tail})
	// A payload that is not JSON, as a crashing agent might send.
	bad := []byte(`{"session_id":"x","hook_event_name":"UserPromptSubmit","prompt":"` + relSecrets[2].value + " " + relSecrets[8].value)
	relCheckHooks(t, []crash.HookResult{crash.RunHook(filepath.Join(h.Bin, "weave-agentd-hook"), h.Environ(), bad, "claude")})
	relSettle(t, h, rcv)
	if len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")) == 0 {
		t.Fatal("the session's turn never arrived")
	}
	relCheckNoLeaks(t, rcv, relStopAndReadSpool(t, h, d), d.Log())
	if l := relLeaks([]byte(relSecretText())); len(l) != len(relSecrets) {
		t.Fatalf("self-check: only %v detectable", l)
	}
}

// relCheckNoLeaks fails when a secret is in what the server received, in
// the spool file's bytes or in the daemon's log.
func relCheckNoLeaks(t *testing.T, rcv *receiver.Receiver, spool []byte, log string) {
	t.Helper()
	if l := relLeaks(relSpansText(rcv.Spans())); len(l) > 0 {
		t.Errorf("secrets reached the server: %v", l)
	}
	if l := relLeaks(spool); len(l) > 0 {
		t.Errorf("secrets are in the spool file after the session (%d bytes): %v", len(spool), l)
	}
	if l := relLeaks([]byte(log)); len(l) > 0 {
		t.Errorf("secrets in the daemon's log: %v\n%s", l, relLines(log, relSecrets[2].tell))
	}
}

// relLines returns the lines of s containing sub.
func relLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The real Claude Code CLI (2.1.328, offline against the scripted API):
// secrets typed into the prompt, printed by a Bash tool and repeated in the
// model's answer never reach the server, the spool file or the log.
func TestSecretsFromRealClaudeCodeAreRedacted(t *testing.T) {
	t.Parallel()
	bin := claudecli.Require(t)
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\nlog_level = \"debug\"\n")
	d := h.StartDaemon()
	secrets := relSecretText()
	cmd := "printf '%s\\n' " + shellQuote(strings.ReplaceAll(secrets, "\n", " "))
	api := fa.Start(t, fa.Script{Main: fa.Steps(
		// The model "thinks" for 3s: the daemon reads the prompt meanwhile.
		fa.Reply{Parts: []fa.Part{fa.Text("Checking the credentials."), fa.Bash(cmd, "Print the credentials")},
			Usage: fa.Usage{InputTokens: 900, OutputTokens: 30}, Delay: 3 * time.Second},
		fa.Say("Your credentials: "+secrets, fa.Usage{InputTokens: 1000, OutputTokens: 60}),
	)})
	res, mid, d := relClaudeMidTurn(t, bin, h, d, api, "configure the deploy with these credentials: "+secrets, relSecrets[0].tell)
	if l := relLeaks(mid); len(l) > 0 {
		t.Errorf("while the turn is open, secrets are in the spool file: %v", l)
	}
	relSettle(t, h, rcv)
	turns := 0
	for _, s := range rcv.UniqueSpans() {
		if s.Name == "invoke_agent claude-code" && s.Attr("gen_ai.conversation.id") == res.SessionID {
			turns++
		}
	}
	if turns == 0 {
		t.Fatalf("the turn never arrived; got %d spans", len(rcv.Spans()))
	}
	tr, _ := os.ReadFile(res.TranscriptPath)
	if len(relLeaks(tr)) != len(relSecrets) {
		t.Fatalf("self-check: the transcript holds only %v of the secrets", relLeaks(tr))
	}
	relCheckNoLeaks(t, rcv, relStopAndReadSpool(t, h, d), d.Log())
}

// relCountBase64 counts the occurrences of s base64-encoded (any alignment) in b.
func relCountBase64(b []byte, s string) int {
	n := 0
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), s...))
		n += bytes.Count(b, []byte(enc[4:len(enc)-4]))
	}
	return n
}

// relPromptWritten reports whether a user line holding sub is in a
// transcript under projects.
func relPromptWritten(projects, sub string) bool {
	found := false
	filepath.WalkDir(projects, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(l, []byte(sub)) && bytes.Contains(l, []byte(`"type":"user"`)) {
				found = true
			}
		}
		return nil
	})
	return found
}

// relClaudeMidTurn runs claude -p with prompt (the first reply of api must
// be delayed); while the model "thinks" and the prompt (holding tell) is in
// the transcript, it flushes, stops the daemon and reads the spool file — a
// disk image of that moment — then restarts the daemon and waits for claude.
func relClaudeMidTurn(t *testing.T, bin string, h *agentd.Home, d *agentd.Daemon, api *fa.Server, prompt, tell string) (claudecli.Result, []byte, *agentd.Daemon) {
	t.Helper()
	type done struct {
		res claudecli.Result
		err error
	}
	ch := make(chan done, 1)
	cwd := filepath.Join(h.HOME, "project")
	os.MkdirAll(cwd, 0o755)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		res, err := claudecli.Run(ctx, claudecli.Options{Bin: bin, Home: h.HOME, Cwd: cwd, BaseURL: api.URL(), Prompt: prompt,
			HookCommand: filepath.Join(h.Bin, "weave-agentd-hook"), HookArgs: []string{"claude"},
			Env: []string{"WEAVE_AGENTD_HOME=" + h.Dir}})
		ch <- done{res, err}
	}()
	projects := filepath.Join(h.HOME, ".claude", "projects")
	deadline := time.Now().Add(60 * time.Second)
	for !relPromptWritten(projects, tell) {
		if time.Now().After(deadline) {
			t.Fatal("the prompt never appeared in a transcript")
		}
		time.Sleep(20 * time.Millisecond)
	}
	relFlush(t, h)
	mid := relStopAndReadSpool(t, h, d)
	d = h.StartDaemon()
	r := <-ch
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("claude -p: %v exit %d\nstdout: %s\nstderr: %s", r.err, r.res.ExitCode, r.res.Stdout, r.res.Stderr)
	}
	return r.res, mid, d
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// content = "metadata" (DESIGN invariant 6): with the real Claude Code CLI,
// a prompt, a tool's input, output and error, the model's answer and a
// /compact summary, each carrying a marker, reach the server without any of
// it — no content attribute, and the marker nowhere (attributes, status
// messages, events) — nor in the spool.
func TestMetadataModeDropsAllContent(t *testing.T) {
	t.Parallel()
	bin := claudecli.Require(t)
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\ncontent = \"metadata\"\n")
	d := h.StartDaemon()
	const mark = "ZEBRA-CANARY-4471"
	api := fa.Start(t, fa.Script{Main: fa.Steps(
		fa.Reply{Parts: []fa.Part{fa.Thinking("think " + mark), fa.Text("Running " + mark),
			fa.Bash("echo out-"+mark, "print "+mark)}, Usage: fa.Usage{InputTokens: 900, OutputTokens: 30}, Delay: 3 * time.Second},
		fa.Reply{Parts: []fa.Part{fa.Bash("echo err-"+mark+" >&2; exit 3", "fail "+mark)}, Usage: fa.Usage{InputTokens: 950, OutputTokens: 30}},
		fa.Say("Done: "+mark, fa.Usage{InputTokens: 1000, OutputTokens: 10}),
	), Compact: func(*fa.Call) fa.Reply {
		return fa.Say("<analysis>"+mark+"</analysis>\n<summary>\n1. Primary Request and Intent: run "+mark+".\n</summary>",
			fa.Usage{InputTokens: 2200, OutputTokens: 60})
	}})
	res, mid, d := relClaudeMidTurn(t, bin, h, d, api, "please run "+mark, mark)
	if n := bytes.Count(mid, []byte(mark)) + relCountBase64(mid, mark); n > 0 {
		t.Errorf("metadata mode: while the turn is open, content is in the spool file (%d occurrence(s) of the marker, plain or base64): the builder's state keeps the prompt", n)
	}
	// Then /compact: the summary is content too.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if r, err := claudecli.Compact(ctx, claudecli.Options{Bin: bin, Home: h.HOME, Cwd: filepath.Join(h.HOME, "project"), BaseURL: api.URL(),
		HookCommand: filepath.Join(h.Bin, "weave-agentd-hook"), HookArgs: []string{"claude"},
		Env: []string{"WEAVE_AGENTD_HOME=" + h.Dir}}, res.SessionID); err != nil || r.ExitCode != 0 {
		t.Fatalf("claude /compact: %v exit %d\n%s%s", err, r.ExitCode, r.Stdout, r.Stderr)
	}
	relSettle(t, h, rcv)
	spans := rcv.UniqueSpans()
	tools := 0
	for _, s := range spans {
		if s.Attr("gen_ai.conversation.id") != res.SessionID {
			continue
		}
		if strings.HasPrefix(s.Name, "execute_tool") {
			tools++
		}
		for _, k := range []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
			"gen_ai.tool.definitions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} {
			if _, ok := s.Attributes[k]; ok {
				t.Errorf("metadata mode: span %q has %s", s.Name, k)
			}
		}
		j, _ := json.Marshal(s)
		if bytes.Contains(j, []byte(mark)) {
			t.Errorf("metadata mode: span %q carries content: %s", s.Name, relLines(strings.ReplaceAll(string(j), ",", ",\n"), mark))
		}
	}
	if tools < 2 {
		t.Fatalf("want the two tool spans; got %d (%s)", tools, relSummary(spans))
	}
	spool := relStopAndReadSpool(t, h, d)
	if n := bytes.Count(spool, []byte(mark)) + relCountBase64(spool, mark); n > 0 {
		t.Errorf("metadata mode: content is in the spool file after the session (%d occurrence(s) of the marker, plain or base64)", n)
	}
}

// Private files (DESIGN "Paths"): with a umask of 000, install writes the
// config (holding a credential) 0600, and the daemon's state folder is 0700,
// its socket 0600, the spool, the inbox and the local OTLP file 0600.
func TestStateFilesArePrivate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("install is exercised on Linux only (on macOS it would load a real LaunchAgent)")
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	h := agentd.NewHome(t)
	r := h.CLI("install", "--endpoint", "http://127.0.0.1:9/v1/traces", "--header", "authorization=Bearer sekrit-Qk9PTVNFQ1JFVFRPS0VO", "--claude")
	// Without a per-user service manager install exits 1 after writing everything else.
	cfg := filepath.Join(h.Dir, "config.toml")
	if _, err := os.Stat(cfg); err != nil {
		t.Fatalf("install wrote no config: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The daemon: first with no endpoint (local OTLP file), then hooks while it is down.
	os.Remove(cfg)
	d := h.StartDaemon()
	relFeed(t, h, relScenarios(t, "plain"))
	relFlush(t, h)
	d.Stop()
	relCheckHooks(t, []crash.HookResult{crash.RunHook(filepath.Join(h.Bin, "weave-agentd-hook"), h.Environ(),
		[]byte(`{"session_id":"p","hook_event_name":"Notification"}`), "claude")})
	h.CLI("install", "--endpoint", "http://127.0.0.1:9/v1/traces", "--header", "authorization=Bearer sekrit-Qk9PTVNFQ1JFVFRPS0VO", "--claude")
	want := map[string]fs.FileMode{
		h.Dir:                               0o700,
		cfg:                                 0o600,
		filepath.Join(h.Dir, "spool.db"):    0o600,
		filepath.Join(h.Dir, "inbox.jsonl"): 0o600,
		filepath.Join(h.Dir, "otlp"):        0o700,
		filepath.Join(h.Dir, "otlp", "traces.jsonl"): 0o600,
	}
	for p, m := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), m)
		}
	}
	// Everything else under the state folder: nothing readable by others.
	filepath.WalkDir(h.Dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := de.Info()
		if err == nil && fi.Mode().Perm()&0o077 != 0 && !strings.HasPrefix(p, filepath.Join(h.Dir, "bin")) {
			t.Errorf("%s is open to others: %v", p, fi.Mode().Perm())
		}
		return nil
	})
	// The socket, while a daemon runs.
	h.StartDaemon()
	sock := filepath.Join(h.Dir, "agentd.sock")
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&fs.ModeSocket == 0 {
		t.Errorf("socket %s: %v %v, want a 0600 socket", sock, fi.Mode(), err)
	}
}

// rawClientEnv makes the test binary a bare socket client (rawClient)
// instead of running the tests.
const rawClientEnv = "WEAVE_AGENTD_E2E_RAW_CLIENT"

func TestMain(m *testing.M) {
	if sock := os.Getenv(rawClientEnv); sock != "" {
		rawClient(sock)
		return
	}
	os.Exit(m.Run())
}

// rawClient sends one event frame to sock with none of the hook's checks,
// and prints what happened: "connected", then the write's and the answer's
// outcome (a daemon that refuses the peer closes at once: EPIPE or EOF).
func rawClient(sock string) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("connected")
	ev := &hooks.Event{ID: "raw-foreign", Agent: hooks.AgentClaude, Name: "Notification", Session: "foreign",
		Payload: json.RawMessage(`{"session_id":"foreign","hook_event_name":"Notification"}`)}
	if err := hooks.WriteFrame(c, &hooks.Request{V: hooks.ProtocolVersion, Op: hooks.OpEvent, Event: ev}); err != nil {
		fmt.Println("write:", err)
		return
	}
	fmt.Println("sent")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp hooks.Response
	fmt.Println("answer:", hooks.ReadFrame(c, hooks.MaxFrame, &resp), resp.OK)
}

// A connection from another uid is refused (SO_PEERCRED), on Linux. With
// the default modes another user cannot even reach the socket; opened up by
// hand (folders 0711, socket 0666), the foreign hook does not connect (the
// socket is not its own) and a raw client of that uid is refused by the
// daemon. The foreign hook exits 0 and nothing of it is stored.
func TestOtherUIDIsRefused(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs Linux and root to run a process as another uid")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed; cannot run a process as another uid")
	}
	if out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/true").CombinedOutput(); err != nil {
		t.Skipf("cannot switch to uid 65534 here (%v: %s)", err, out)
	}
	h := agentd.NewHome(t)
	rcv := receiver.Start(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()
	// A copy of the hook binary that uid 65534 may execute.
	pub, err := os.MkdirTemp("", "wa-pub-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	os.Chmod(pub, 0o755)
	agentd.CopyFile(t, filepath.Join(h.Bin, "weave-agentd-hook"), filepath.Join(pub, "hook"))
	os.Chmod(filepath.Join(pub, "hook"), 0o755)
	foreign := func() crash.HookResult {
		env := []string{"WEAVE_AGENTD_HOME=" + h.Dir, "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
		r := crash.RunHook(setpriv, env, []byte(`{"session_id":"foreign","hook_event_name":"Notification","message":"from another uid"}`),
			"--reuid=65534", "--regid=65534", "--clear-groups", "--", filepath.Join(pub, "hook"), "claude")
		r.Name = "foreign"
		return r
	}
	before := relGetStatus(t, h)
	relCheckHooks(t, []crash.HookResult{foreign()}) // default modes: cannot reach the socket

	// Open the way to the socket by hand.
	sock := filepath.Join(h.Dir, "agentd.sock")
	for p := h.Dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			os.Chmod(p, fi.Mode().Perm()|0o011)
		}
	}
	os.Chmod(sock, 0o666)
	// The foreign hook does not even connect: the socket is not its own.
	relCheckHooks(t, []crash.HookResult{foreign()})
	// A raw client of uid 65534 (this test binary, copied where it may run
	// it) connects anyway: the daemon must refuse it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	agentd.CopyFile(t, self, filepath.Join(pub, "e2e.test"))
	os.Chmod(filepath.Join(pub, "e2e.test"), 0o755)
	raw := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", filepath.Join(pub, "e2e.test"))
	raw.Env = []string{rawClientEnv + "=" + sock}
	out, err := raw.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "connected") {
		t.Fatalf("raw client of uid 65534: %v\n%s", err, out)
	}
	os.Chmod(sock, 0o600) // our own status client trusts only a private socket
	after := relGetStatus(t, h)
	if after.Counters["events"] != before.Counters["events"] {
		t.Errorf("an event from uid 65534 was stored (events %d → %d)", before.Counters["events"], after.Counters["events"])
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "inbox.jsonl")); err == nil {
		t.Errorf("uid 65534 wrote into our inbox")
	}
	switch n := strings.Count(d.Log(), "refused a connection from another user"); n {
	case 0:
		t.Errorf("the daemon did not log the refused connection; the peer check may not have run:\n%s", d.Log())
	case 1: // the raw client's; the foreign hook never connected
	default:
		t.Errorf("the daemon refused %d connections of uid 65534; only the raw client should have connected:\n%s", n, d.Log())
	}
}
