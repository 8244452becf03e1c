package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolveTargetOrder(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine other login x password y\nmachine api.wandb.ai\n  login user\n  password netrc-key\n"), 0o600)
	basic := func(k string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+k)) }
	tests := []struct {
		name    string
		cfg     Config
		env     map[string]string
		url     string
		source  string
		headers map[string]string
		wantErr string
	}{
		{name: "nothing: file sink", source: "none (local file sink)"},
		{name: "traces endpoint var", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
			url: "http://c:4318/v1/traces", source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{name: "base endpoint var gets the signal path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"},
			url: "http://c:4318/v1/traces", source: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "config beats env", cfg: Config{Endpoint: "https://x/v1/traces", Headers: map[string]string{"a": "cfg"}},
			env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces", "OTEL_EXPORTER_OTLP_HEADERS": "a=env,b=two%20words"},
			url: "https://x/v1/traces", source: "config", headers: map[string]string{"a": "cfg", "b": "two words"}},
		{name: "weave with WANDB_API_KEY", cfg: Config{WeaveProject: "ent/proj"}, env: map[string]string{"WANDB_API_KEY": "k1"},
			url: "https://trace.wandb.ai/agents/otel/v1/traces", source: "weave",
			headers: map[string]string{"Authorization": basic("k1"), "project_id": "ent/proj"}},
		{name: "weave key from config wins", cfg: Config{WeaveProject: "e/p", WeaveAPIKey: "cfgkey", WeaveBaseURL: "https://weave.corp/"},
			env: map[string]string{"WANDB_API_KEY": "envkey"}, url: "https://weave.corp/agents/otel/v1/traces", source: "weave",
			headers: map[string]string{"Authorization": basic("cfgkey"), "project_id": "e/p"}},
		{name: "weave key from netrc", cfg: Config{WeaveProject: "e/p"}, url: "https://trace.wandb.ai/agents/otel/v1/traces", source: "weave",
			headers: map[string]string{"Authorization": basic("netrc-key"), "project_id": "e/p"}},
		{name: "bad OTEL headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, wantErr: "OTEL_EXPORTER_OTLP_HEADERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := home
			if tt.name != "weave key from netrc" {
				h = t.TempDir()
			}
			got, err := tt.cfg.ResolveTarget(Env{Getenv: envOf(tt.env), Home: h})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != tt.url || got.Source != tt.source {
				t.Fatalf("got %q from %q, want %q from %q", got.URL, got.Source, tt.url, tt.source)
			}
			for k, v := range tt.headers {
				if got.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
				}
			}
		})
	}
}

// Weave gets what its own SDKs send (uncompressed protobuf) unless the
// config says otherwise; other endpoints honour compression, then the
// OTEL_* variables, then gzip.
func TestResolveCompression(t *testing.T) {
	weave := Config{WeaveProject: "e/p", WeaveAPIKey: "k"}
	otlp := Config{Endpoint: "http://c/v1/traces"}
	tests := []struct {
		name    string
		cfg     Config
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "weave: none", cfg: weave, env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, want: "none"},
		{name: "weave: config gzip honoured", cfg: Config{WeaveProject: "e/p", WeaveAPIKey: "k", Compression: "gzip"}, want: "gzip"},
		{name: "otlp: gzip by default", cfg: otlp, want: "gzip"},
		{name: "otlp: config none", cfg: Config{Endpoint: "http://c/v1/traces", Compression: "none"}, env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}, want: "none"},
		{name: "otlp: traces variable first", cfg: otlp, env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, want: "none"},
		{name: "otlp: config in any case", cfg: Config{Endpoint: "http://c/v1/traces", Compression: "None"}, want: "none"},
		{name: "otlp: general variable", cfg: otlp, env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "NONE"}, want: "none"},
		{name: "env endpoint and variable", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_COMPRESSION": "none"}, want: "none"},
		{name: "bad variable named", cfg: otlp, env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, wantErr: "OTEL_EXPORTER_OTLP_COMPRESSION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.ResolveTarget(Env{Getenv: envOf(tt.env), Home: t.TempDir()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Compression != tt.want {
				t.Fatalf("compression %q, want %q", got.Compression, tt.want)
			}
		})
	}
}

func TestWeaveWithoutKeySaysWhatToDo(t *testing.T) {
	_, err := (&Config{WeaveProject: "e/p"}).ResolveTarget(Env{Getenv: envOf(nil), Home: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "WANDB_API_KEY") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, toml, wantErr string
	}{
		{"valid", "endpoint = \"http://localhost:4318/v1/traces\"\ncontent = \"metadata\"\nexclude = [\"/home/me/secret/*\"]\ncompression = \"none\"\n[headers]\nx-team = \"a\"\n", ""},
		{"unknown key named", "endpoint = \"http://x/v1/traces\"\nendpiont = \"typo\"\n", "config.toml, line 2: unknown key(s) endpiont"},
		{"bad content", "# comment\n\ncontent = \"everything\"\n", `config.toml, line 3: content = "everything"`},
		{"bad log level", "# log_level = \"debug\"\n  \"log_level\"=\"loud\"\n", `line 2: log_level = "loud"`},
		{"syntax error", "endpoint = \"http://x/v1/traces\"\ncontent = \"full\n", `line 2 (last key "content")`},
		{"bad endpoint", "endpoint = \"localhost:4318\"\n", "http:// or https://"},
		{"bad weave project", "weave_project = \"noslash\"\n", "ENTITY/PROJECT"},
		{"bad regexp", "redact = [\"(\"]\n", "redact pattern"},
		{"cert without key", "client_cert = \"/c.pem\"\n", "go together"},
		{"bad compression", "# c\ncompression = \"zstd\"\n", `line 2: compression = "zstd": want "gzip" or "none"`},
		{"compression key misspelt", "compresion = \"none\"\n", "unknown key(s) compresion"},
		{"not toml", "endpoint = \n", "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(p, []byte(tt.toml), 0o600)
			c, err := Load(p)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Content != "metadata" || c.Compression != "none" || c.Headers["x-team"] != "a" || c.MaxAttributeBytes != DefaultMaxAttributeBytes {
					t.Fatalf("config = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMissingFileGivesDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err != nil || c.Content != "full" || c.SpoolMaxBytes != DefaultSpoolMaxBytes {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestSaveIsPrivateAndRoundTrips(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.toml")
	in := &Config{Endpoint: "https://x/v1/traces", WeaveAPIKey: "secret", Headers: map[string]string{"a": "b"}}
	if err := Save(p, in); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	out, err := Load(p)
	if err != nil || out.Endpoint != in.Endpoint || out.WeaveAPIKey != "secret" || out.Headers["a"] != "b" {
		t.Fatalf("%+v %v", out, err)
	}
}
