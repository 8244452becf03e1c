package installer

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/weave-agentd/weave-agentd/config"
)

// otlpServer accepts OTLP/HTTP protobuf on /v1/traces when the token matches.
func otlpServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a protobuf POST", http.StatusUnsupportedMediaType)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		body, _ := io.ReadAll(rd)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func find(r Report, substr string) (Check, bool) {
	for _, c := range r.Checks {
		if strings.Contains(c.What, substr) {
			return c, true
		}
	}
	return Check{}, false
}

func TestDoctor(t *testing.T) {
	srv := otlpServer(t, "s3cret")
	w := newWorld(t)
	claudeDir := filepath.Join(w.home, ".claude")
	os.MkdirAll(claudeDir, 0o755)
	in := w.installer()
	ctx := context.Background()
	if err := in.Install(ctx, Options{Endpoint: srv.URL + "/v1/traces", Headers: map[string]string{"Authorization": "Bearer s3cret"}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in.Paths().Spool, []byte("bbolt"), 0o600)

	r := in.Doctor(ctx)
	var buf bytes.Buffer
	r.WriteTo(&buf)
	if r.Failed() {
		t.Fatalf("healthy install fails doctor:\n%s", buf.String())
	}
	t.Logf("doctor on a healthy install:\n%s", buf.String())
	for _, want := range []string{"endpoint " + srv.URL + "/v1/traces accepts OTLP", "Claude Code hooks registered for 12 events", "daemon answers", "is active", "spool ", "Cursor not found"} {
		if c, ok := find(r, want); !ok || c.Level != OK {
			t.Errorf("no ok line %q in\n%s", want, buf.String())
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(line, "ok    ") && !strings.HasPrefix(line, "warn  ") && !strings.HasPrefix(line, "FAIL  ") {
			t.Errorf("line %q is not 'ok|warn|FAIL  what  hint'", line)
		}
	}

	// Things going wrong, one at a time.
	t.Run("credentials rejected", func(t *testing.T) {
		in.s.Getenv = func(k string) string { return w.env[k] }
		path := in.Paths().ConfigFile
		b, _ := os.ReadFile(path)
		os.WriteFile(path, bytes.ReplaceAll(b, []byte("s3cret"), []byte("wrong")), 0o600)
		defer os.WriteFile(path, b, 0o600)
		r := in.Doctor(ctx)
		c, ok := find(r, "endpoint ")
		if !ok || c.Level != Fail || !strings.Contains(c.What, "HTTP 401") || !strings.Contains(c.Hint, "credentials") || !r.Failed() {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("wrong path", func(t *testing.T) {
		path := in.Paths().ConfigFile
		b, _ := os.ReadFile(path)
		os.WriteFile(path, bytes.ReplaceAll(b, []byte("/v1/traces"), []byte("/v1/trace")), 0o600)
		defer os.WriteFile(path, b, 0o600)
		c, _ := find(in.Doctor(ctx), "endpoint ")
		if c.Level != Fail || !strings.Contains(c.Hint, "full traces URL") {
			t.Errorf("got %+v", c)
		}
	})
	t.Run("short transcript retention", func(t *testing.T) {
		settings := filepath.Join(claudeDir, "settings.json")
		b, _ := os.ReadFile(settings)
		defer os.WriteFile(settings, b, 0o600)
		for days, want := range map[string]string{"3": "after 3 days", "0": "is 0"} {
			os.WriteFile(settings, bytes.Replace(b, []byte("{"), []byte(`{"cleanupPeriodDays": `+days+`,`), 1), 0o600)
			c, ok := find(in.Doctor(ctx), "cleanupPeriodDays")
			if !ok || c.Level != Warn || !strings.Contains(c.What, want) {
				t.Errorf("%s days: %+v", days, c)
			}
		}
		os.WriteFile(settings, bytes.Replace(b, []byte("{"), []byte(`{"cleanupPeriodDays": 60,`), 1), 0o600)
		if c, _ := find(in.Doctor(ctx), "keeps transcripts for 60 days"); c.Level != OK {
			t.Errorf("60 days: %+v", c)
		}
	})
	t.Run("Claude Code hooks disabled", func(t *testing.T) {
		settings := filepath.Join(claudeDir, "settings.json")
		b, _ := os.ReadFile(settings)
		defer os.WriteFile(settings, b, 0o600)
		os.WriteFile(settings, bytes.Replace(b, []byte("{"), []byte(`{"disableAllHooks": true,`), 1), 0o600)
		if c, ok := find(in.Doctor(ctx), "disableAllHooks"); !ok || c.Level != Warn {
			t.Errorf("%+v", c)
		}
	})
	t.Run("daemon down and service inactive", func(t *testing.T) {
		w.up = false
		w.runner.answers["systemctl --user is-active weave-agentd.service"] = fakeAnswer{stdout: "inactive\n", code: 3}
		defer func() {
			w.up = true
			w.runner.answers["systemctl --user is-active weave-agentd.service"] = fakeAnswer{stdout: "active\n"}
		}()
		r := in.Doctor(ctx)
		if c, _ := find(r, "no daemon answers"); c.Level != Fail || !strings.Contains(c.Hint, "journalctl --user -u weave-agentd") {
			t.Errorf("socket: %+v", c)
		}
		if c, _ := find(r, "is inactive"); c.Level != Fail || !strings.Contains(c.Hint, "weave-agentd start") {
			t.Errorf("service: %+v", c)
		}
	})
	t.Run("hooks removed and moved", func(t *testing.T) {
		settings := filepath.Join(claudeDir, "settings.json")
		b, _ := os.ReadFile(settings)
		defer os.WriteFile(settings, b, 0o600)
		os.WriteFile(settings, bytes.ReplaceAll(b, []byte(in.StableHook()), []byte("/gone/weave-agentd-hook")), 0o600)
		c, _ := find(in.Doctor(ctx), "Claude Code hooks")
		if c.Level != Fail || !strings.Contains(c.What, "missing binary") || c.Hint != "weave-agentd hooks install --claude" {
			t.Errorf("moved: %+v", c)
		}
		os.WriteFile(settings, []byte(`{"model": "opus"}`), 0o600)
		c, _ = find(in.Doctor(ctx), "Claude Code hooks")
		if c.Level != Fail || !strings.Contains(c.What, "not registered") {
			t.Errorf("removed: %+v", c)
		}
	})
	t.Run("no endpoint", func(t *testing.T) {
		path := in.Paths().ConfigFile
		b, _ := os.ReadFile(path)
		defer os.WriteFile(path, b, 0o600)
		os.WriteFile(path, []byte("content = \"full\"\n"), 0o600)
		r := in.Doctor(ctx)
		if c, _ := find(r, "no endpoint configured"); c.Level != Warn {
			t.Errorf("%+v", c)
		}
		if r.Failed() {
			var buf bytes.Buffer
			r.WriteTo(&buf)
			t.Errorf("the local file sink is a valid setup:\n%s", buf.String())
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		path := in.Paths().ConfigFile
		b, _ := os.ReadFile(path)
		defer os.WriteFile(path, b, 0o600)
		os.WriteFile(path, []byte("colour = \"blue\"\n"), 0o600)
		r := in.Doctor(ctx)
		if c, _ := find(r, "colour"); c.Level != Fail || !r.Failed() {
			t.Errorf("%+v", c)
		}
	})
}

func TestDoctorNothingInstalled(t *testing.T) {
	w := newWorld(t)
	w.up = false
	r := w.installer().Doctor(context.Background())
	if !r.Failed() {
		t.Error("an empty machine passes doctor")
	}
	if c, _ := find(r, "service is not installed"); c.Level != Fail || !strings.Contains(c.Hint, "weave-agentd install") {
		t.Errorf("%+v", c)
	}
}

// The endpoint check sends what the daemon will send: gzip unless the
// target says none, so a server that cannot gunzip fails here, with a hint.
func TestCheckEndpointCompression(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Content-Encoding"))
		if r.Header.Get("Content-Encoding") != "" {
			http.Error(w, "no compression here", http.StatusUnsupportedMediaType)
		}
	}))
	t.Cleanup(srv.Close)
	err := CheckEndpoint(t.Context(), srv.Client(), config.Target{URL: srv.URL, Compression: config.CompressionGzip})
	if err == nil || !strings.Contains(endpointHint(err), `compression = "none"`) {
		t.Errorf("gzip to a server that cannot gunzip: %v, hint %q", err, endpointHint(err))
	}
	if err := CheckEndpoint(t.Context(), srv.Client(), config.Target{URL: srv.URL, Compression: config.CompressionNone}); err != nil {
		t.Errorf("uncompressed: %v", err)
	}
	if strings.Join(got, ",") != "gzip," {
		t.Errorf("Content-Encoding sent: %q", got)
	}
}
