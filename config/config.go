// Package config reads and writes weave-agentd's config.toml and resolves the
// export target from the config file and the standard OTEL_* variables.
package config

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the human-edited config.toml. Every key is documented in
// README.md; an unknown key is an error that names it.
type Config struct {
	Endpoint          string            `toml:"endpoint"`            // full OTLP/HTTP traces URL
	Headers           map[string]string `toml:"headers"`             // extra request headers
	WeaveProject      string            `toml:"weave_project"`       // entity/project
	WeaveBaseURL      string            `toml:"weave_base_url"`      // dedicated Weave installs
	WeaveAPIKey       string            `toml:"weave_api_key"`       // written by install when WANDB_API_KEY is set
	Content           string            `toml:"content"`             // full | metadata
	Redact            []string          `toml:"redact"`              // extra regexes
	Exclude           []string          `toml:"exclude"`             // project path globs
	MaxAttributeBytes int               `toml:"max_attribute_bytes"` // per attribute value
	SpoolMaxBytes     int64             `toml:"spool_max_bytes"`
	Proxy             string            `toml:"proxy"`
	CAFile            string            `toml:"ca_file"`
	ClientCert        string            `toml:"client_cert"`
	ClientKey         string            `toml:"client_key"`
	Compression       string            `toml:"compression"` // gzip | none (request bodies)
	CaptureHost       *bool             `toml:"capture_host"`
	CaptureUserEmail  bool              `toml:"capture_user_email"`
	ServiceName       string            `toml:"service_name"`
	LogLevel          string            `toml:"log_level"`
}

// Defaults.
const (
	DefaultMaxAttributeBytes = 64 << 10
	DefaultSpoolMaxBytes     = 1 << 30
	DefaultWeaveBaseURL      = "https://trace.wandb.ai"
	weaveTracesPath          = "/agents/otel/v1/traces"
)

// Request body compressions (config compression, OTEL_EXPORTER_OTLP_*COMPRESSION).
const (
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// Load reads path and fills in the defaults. A missing file is not an
// error: it yields the defaults. Unknown keys and invalid values are errors
// that name them.
func Load(path string) (*Config, error) {
	c, _, err := LoadRaw(path)
	if err != nil {
		return nil, err
	}
	return c.withDefaults(), nil
}

func (c *Config) withDefaults() *Config {
	if c.Content == "" {
		c.Content = "full"
	}
	if c.MaxAttributeBytes == 0 {
		c.MaxAttributeBytes = DefaultMaxAttributeBytes
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate checks values that TOML typing cannot.
func (c *Config) Validate() error {
	switch c.Content {
	case "", "full", "metadata":
	default:
		return keyErr("content", fmt.Errorf("content = %q: want \"full\" or \"metadata\"", c.Content))
	}
	if c.Endpoint != "" {
		if _, err := parseHTTPURL(c.Endpoint); err != nil {
			return keyErr("endpoint", fmt.Errorf("endpoint: %w", err))
		}
	}
	if c.WeaveProject != "" && strings.Count(c.WeaveProject, "/") != 1 {
		return keyErr("weave_project", fmt.Errorf("weave_project = %q: want ENTITY/PROJECT", c.WeaveProject))
	}
	for _, r := range c.Redact {
		if _, err := regexp.Compile(r); err != nil {
			return keyErr("redact", fmt.Errorf("redact pattern %q: %w", r, err))
		}
	}
	for _, g := range c.Exclude {
		if _, err := filepath.Match(g, ""); err != nil {
			return keyErr("exclude", fmt.Errorf("exclude glob %q: %w", g, err))
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "", "debug", "info", "warn", "error":
	default:
		return keyErr("log_level", fmt.Errorf("log_level = %q: want debug, info, warn or error", c.LogLevel))
	}
	if err := checkCompression(strings.ToLower(c.Compression)); err != nil {
		return keyErr("compression", fmt.Errorf("compression = %q: %w", c.Compression, err))
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return keyErr("client_cert", errors.New("client_cert and client_key go together"))
	}
	if c.MaxAttributeBytes < 0 {
		return keyErr("max_attribute_bytes", errors.New("max_attribute_bytes must be positive"))
	}
	if c.SpoolMaxBytes < 0 {
		return keyErr("spool_max_bytes", errors.New("spool_max_bytes must be positive"))
	}
	return nil
}

// KeyError is an invalid value of one key; Load adds the key's line.
type KeyError struct {
	Key string
	Err error
}

func keyErr(key string, err error) error { return &KeyError{Key: key, Err: err} }

func (e *KeyError) Error() string { return e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Save writes every key of the config atomically with mode 0600 (it may
// hold credentials). SaveSparse writes only the keys that are set.
func Save(path string, c *Config) error {
	var buf bytes.Buffer
	buf.WriteString("# weave-agentd configuration. Keys are documented in README.md.\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return writePrivate(path, buf.Bytes())
}

func checkCompression(v string) error {
	switch v {
	case "", CompressionGzip, CompressionNone:
		return nil
	}
	return errors.New(`want "gzip" or "none"`)
}

// Target is where spans go. An empty URL means the local OTLP/JSON file sink.
type Target struct {
	URL     string
	Headers map[string]string
	Source  string // "config", "weave", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", … for status
	// Compression of request bodies: CompressionGzip or CompressionNone.
	Compression string
}

// Env is the part of the environment the target depends on.
type Env struct {
	Getenv func(string) string
	Home   string
}

// ResolveTarget applies the order DESIGN.md fixes: config (flags are written
// into the config by install), the Weave shortcut, then the standard
// OTEL_EXPORTER_OTLP_* variables.
func (c *Config) ResolveTarget(env Env) (Target, error) {
	t, err := c.resolveTarget(env)
	if err != nil || t.URL == "" {
		return t, err
	}
	t.Compression, err = c.resolveCompression(env, t.Source == "weave")
	return t, err
}

// resolveCompression: the config's compression, else for Weave what its own
// SDKs send (uncompressed protobuf: nothing has shown that Weave gunzips),
// else OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION,
// and gzip by default.
func (c *Config) resolveCompression(env Env, weave bool) (string, error) {
	if c.Compression != "" {
		return strings.ToLower(c.Compression), nil // as the OTEL_* variables: any case
	}
	if weave {
		return CompressionNone, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		if v := strings.ToLower(strings.TrimSpace(env.Getenv(k))); v != "" {
			if err := checkCompression(v); err != nil {
				return "", fmt.Errorf("%s=%q: %w", k, v, err)
			}
			return v, nil
		}
	}
	return CompressionGzip, nil
}

func (c *Config) resolveTarget(env Env) (Target, error) {
	headers := map[string]string{}
	if h := env.Getenv("OTEL_EXPORTER_OTLP_HEADERS"); h != "" {
		parsed, err := ParseOTELHeaders(h)
		if err != nil {
			return Target{}, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %w", err)
		}
		for k, v := range parsed {
			headers[k] = v
		}
	}
	for k, v := range c.Headers {
		headers[k] = v
	}
	switch {
	case c.Endpoint != "":
		return Target{URL: c.Endpoint, Headers: headers, Source: "config"}, nil
	case c.WeaveProject != "":
		key := c.WeaveAPIKey
		if key == "" {
			key = env.Getenv("WANDB_API_KEY")
		}
		if key == "" {
			key = netrcPassword(filepath.Join(env.Home, ".netrc"), "api.wandb.ai")
		}
		if key == "" {
			return Target{}, errors.New("weave_project is set but no W&B API key was found: set WANDB_API_KEY or add machine api.wandb.ai to ~/.netrc, then run 'weave-agentd install' again")
		}
		base := c.WeaveBaseURL
		if base == "" {
			base = DefaultWeaveBaseURL
		}
		headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+key))
		headers["project_id"] = c.WeaveProject
		return Target{URL: strings.TrimRight(base, "/") + weaveTracesPath, Headers: headers, Source: "weave"}, nil
	}
	if u := env.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); u != "" {
		return Target{URL: u, Headers: headers, Source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}, nil
	}
	if u := env.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); u != "" {
		return Target{URL: strings.TrimRight(u, "/") + "/v1/traces", Headers: headers, Source: "OTEL_EXPORTER_OTLP_ENDPOINT"}, nil
	}
	return Target{Source: "none (local file sink)"}, nil
}

// ParseOTELHeaders parses the W3C-baggage-like "k=v,k2=v2" form of
// OTEL_EXPORTER_OTLP_HEADERS (values URL-encoded).
func ParseOTELHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		dv, err := url.QueryUnescape(strings.TrimSpace(v))
		if err != nil {
			dv = strings.TrimSpace(v)
		}
		out[strings.TrimSpace(k)] = dv
	}
	return out, nil
}

// SortedHeaderNames lists header names for display, never their values.
func (t Target) SortedHeaderNames() []string {
	names := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL (the full traces URL, e.g. http://localhost:4318/v1/traces)", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	return u, nil
}

// netrcPassword returns the password of machine in a .netrc file, or "".
func netrcPassword(path, machine string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var toks []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		toks = append(toks, strings.Fields(sc.Text())...)
	}
	for i := 0; i < len(toks); i++ {
		if toks[i] != "machine" || i+1 >= len(toks) || toks[i+1] != machine {
			continue
		}
		for j := i + 2; j+1 < len(toks) && toks[j] != "machine"; j++ {
			if toks[j] == "password" {
				return toks[j+1]
			}
		}
	}
	return ""
}
