package installer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Level grades a doctor check.
type Level int

// Levels. Only Fail makes doctor exit non-zero.
const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "FAIL"
}

// Check is one line of doctor's report.
type Check struct {
	Level Level
	What  string
	Hint  string // what to do; may be empty for ok
}

// Report is doctor's result.
type Report struct{ Checks []Check }

// Failed reports whether something needs the user.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Level == Fail {
			return true
		}
	}
	return false
}

// WriteTo prints one line per check: "ok|warn|FAIL  <what>  <hint>".
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %s", c.Level, c.What)
		if c.Hint != "" {
			fmt.Fprintf(&b, "  %s", c.Hint)
		}
		b.WriteByte('\n')
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

func (r *Report) add(l Level, what, hint string) { r.Checks = append(r.Checks, Check{l, what, hint}) }

// Doctor checks the config, the installed binaries, the service, the
// socket, the hooks, the endpoint (with a real, empty OTLP export), the
// spool, and what the agents find in their own settings (Claude Code's
// transcript retention).
func (in *Installer) Doctor(ctx context.Context) Report {
	var r Report
	cfg := in.doctorConfig(&r)
	in.doctorBinaries(&r)
	in.doctorService(ctx, &r)
	daemonUp := in.doctorSocket(ctx, &r)
	in.doctorHooks(ctx, &r)
	if cfg != nil {
		in.doctorEndpoint(ctx, &r, cfg)
	}
	in.doctorSpool(&r, daemonUp)
	in.doctorAgents(&r, transcript.Checker.CheckTranscripts)
	return r
}

func (in *Installer) doctorConfig(r *Report) *config.Config {
	path := in.paths.ConfigFile
	if !fileExists(path) {
		r.add(Warn, "config "+path+" does not exist (defaults apply)", "weave-agentd install --endpoint URL (or --weave-project ENTITY/PROJECT) writes one")
		c, _ := config.Load(path)
		return c
	}
	c, err := config.Load(path)
	if err != nil {
		r.add(Fail, "config: "+err.Error(), "fix "+path+" (keys are documented in README.md)")
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && (c.WeaveAPIKey != "" || len(c.Headers) > 0) {
		r.add(Warn, fmt.Sprintf("config %s is readable by others (mode %v) and may hold credentials", path, fi.Mode().Perm()), "chmod 600 "+path)
	} else {
		r.add(OK, "config "+path+" is valid", "")
	}
	return c
}

func (in *Installer) doctorBinaries(r *Report) {
	for _, p := range []string{in.StableExecutable(), in.StableHook()} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o111 == 0 {
			r.add(Fail, p+" is missing", "weave-agentd install")
			return
		}
	}
	r.add(OK, "binaries installed in "+in.BinDir(), "")
}

func (in *Installer) doctorService(ctx context.Context, r *Report) {
	path := in.UnitPath()
	if err := in.checkUserManager(ctx, false); err != nil {
		r.add(Fail, "no per-user service manager: "+err.(*ServiceUnavailableError).Reason, "run 'weave-agentd run' in a terminal, or: loginctl enable-linger $USER, log in again, weave-agentd install")
		return
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		r.add(Fail, "service is not installed ("+path+" is missing)", "weave-agentd install   (or run 'weave-agentd run' in a terminal)")
		return
	}
	if string(cur) != in.UnitContent() {
		r.add(Warn, "service file "+path+" differs from what this version writes", "weave-agentd install (updates it)")
	} else {
		r.add(OK, "service file "+path, "")
	}
	if in.s.GOOS == "darwin" {
		out, err := in.run(ctx, "launchctl", "list", LaunchdLabel)
		switch {
		case err != nil:
			r.add(Fail, "LaunchAgent "+LaunchdLabel+" is not loaded", "weave-agentd start")
		case !strings.Contains(string(out), `"PID" =`):
			r.add(Fail, "LaunchAgent "+LaunchdLabel+" is loaded but not running", "weave-agentd restart; logs: "+in.logCommand())
		default:
			r.add(OK, "LaunchAgent "+LaunchdLabel+" is running", "")
		}
		return
	}
	unit := ServiceName + ".service"
	out, _ := in.run(ctx, "systemctl", "--user", "is-active", unit)
	switch st := strings.TrimSpace(string(out)); st {
	case "active", "activating", "reloading":
		r.add(OK, "service "+unit+" is "+st, "")
	default:
		if st == "" {
			st = "unknown"
		}
		r.add(Fail, "service "+unit+" is "+st, "weave-agentd start; logs: "+in.logCommand())
	}
	if out, _ := in.run(ctx, "systemctl", "--user", "is-enabled", unit); strings.TrimSpace(string(out)) != "enabled" {
		r.add(Warn, "service "+unit+" does not start at login (not enabled)", "weave-agentd install (enables it)")
	}
	if out, err := in.run(ctx, "loginctl", "show-user", strconv.Itoa(os.Getuid()), "--property=Linger", "--value"); err == nil && strings.TrimSpace(string(out)) == "no" {
		r.add(Warn, "lingering is off: the service stops when your last session ends", "loginctl enable-linger $USER (for servers and remote boxes)")
	}
}

func (in *Installer) doctorSocket(ctx context.Context, r *Report) bool {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := in.s.Prober.Probe(pctx); err != nil {
		if ue, ok := errors.AsType[*hooks.UntrustedError](err); ok {
			r.add(Fail, fmt.Sprintf("not connecting to the socket at %s: %v; hooks keep events in their inbox (%s)",
				in.paths.Socket, ue, in.paths.Inbox), ue.Hint())
			return false
		}
		r.add(Fail, "no daemon answers on "+in.paths.Socket, "weave-agentd start (or 'weave-agentd run' in a terminal); logs: "+in.logCommand())
		return false
	}
	r.add(OK, "daemon answers on "+in.paths.Socket, "")
	return true
}

func (in *Installer) doctorHooks(ctx context.Context, r *Report) {
	in.doctorAgents(r, transcript.Checker.CheckHooks)
	scopes := []string{""}
	if ps, err := in.projects(); err == nil {
		scopes = append(scopes, ps...)
	}
	for _, scope := range scopes {
		sts, err := in.HooksStatus(ctx, HookOptions{Project: scope})
		if err != nil {
			r.add(Fail, "hooks: "+err.Error(), "")
			continue
		}
		for _, hs := range sts {
			name := hs.Title
			flag := "--" + hs.Agent.Name
			if scope != "" {
				flag += " --project " + scope
			}
			switch {
			case hs.Err != nil:
				r.add(Fail, name+" hooks: "+hs.Err.Error(), "")
			case scope == "" && !hs.Installed && len(hs.Entries) == 0:
				r.add(OK, name+" not found on this machine; no hooks needed", "")
			case hs.Registered():
				r.add(OK, fmt.Sprintf("%s hooks registered for %d events in %s → %s", name, len(hs.Events), hs.Path, hs.Binaries[0]), "")
				in.doctorHookTrust(ctx, r, hs, scope)
			case len(hs.Entries) == 0:
				r.add(Fail, name+" hooks are not registered in "+hs.Path, "weave-agentd hooks install "+flag)
			case len(hs.BinaryMissing) > 0:
				r.add(Fail, name+" hooks run a missing binary: "+strings.Join(hs.BinaryMissing, ", "), "weave-agentd hooks install "+flag)
			default:
				r.add(Fail, name+" hooks in "+hs.Path+": "+hs.Summary(), "weave-agentd hooks install "+flag)
			}
		}
	}
}

// doctorHookTrust asks an agent that runs only the hooks the user trusted
// (transcript.HookTruster) whether it runs ours.
func (in *Installer) doctorHookTrust(ctx context.Context, r *Report, hs HookStatus, scope string) {
	a, ok := transcript.AgentNamed(hs.Agent.Name)
	if !ok {
		return
	}
	t, ok := a.(transcript.HookTruster)
	if !ok || len(hs.Entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, trustTimeout)
	defer cancel()
	addFindings(r, t.CheckHookTrust(ctx, in.hookFile(a, hs.Path, scope, hs.Entries[0].Command)))
}

func (in *Installer) doctorEndpoint(ctx context.Context, r *Report, cfg *config.Config) {
	t, err := cfg.ResolveTarget(config.Env{Getenv: in.s.Getenv, Home: in.s.Home})
	if err != nil {
		r.add(Fail, "export target: "+err.Error(), "")
		return
	}
	if t.URL == "" {
		r.add(Warn, "no endpoint configured: spans are written as OTLP/JSON files under "+in.paths.SinkDir, "weave-agentd install --endpoint URL (or --weave-project ENTITY/PROJECT)")
		return
	}
	client := in.s.HTTPClient
	if client == nil {
		if client, err = httpClient(cfg); err != nil {
			r.add(Fail, "endpoint "+t.URL+": "+err.Error(), "check proxy, ca_file, client_cert and client_key in the config")
			return
		}
	}
	if err := CheckEndpoint(ctx, client, t); err != nil {
		r.add(Fail, "endpoint "+t.URL+" ("+t.Source+"): "+err.Error(), endpointHint(err))
		return
	}
	r.add(OK, "endpoint "+t.URL+" accepts OTLP ("+t.Source+")", "")
}

// EndpointError is a non-2xx answer to an OTLP export.
type EndpointError struct {
	Status int
	Body   string
}

func (e *EndpointError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func endpointHint(err error) string {
	ee, ok := err.(*EndpointError)
	if !ok {
		return "is the server running and reachable from here (proxy, firewall, DNS)?"
	}
	switch {
	case ee.Status == 401 || ee.Status == 403:
		return "the server rejected the credentials: check headers / WANDB_API_KEY (weave-agentd install --weave-project ... again with the right key)"
	case ee.Status == 404 || ee.Status == 405:
		return "wrong path: endpoint must be the full traces URL, e.g. http://localhost:4318/v1/traces"
	case ee.Status == 415:
		return "the server does not take OTLP/protobuf over HTTP at this URL (a gRPC port such as 4317?), or not gzip: try compression = \"none\" in the config"
	}
	return ""
}

// CheckEndpoint POSTs an empty ExportTraceServiceRequest (protobuf,
// compressed as the target says) to the target, as the exporter would, and
// reports a non-2xx answer.
func CheckEndpoint(ctx context.Context, client *http.Client, t config.Target) error {
	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{})
	if err != nil {
		return err
	}
	gz := t.Compression == config.CompressionGzip
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", "weave-agentd-doctor")
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 || strings.ContainsRune(msg, 0) {
			msg = ""
		}
		return &EndpointError{Status: resp.StatusCode, Body: firstLine(msg)}
	}
	return nil
}

// httpClient honours the config's proxy, CA and client certificate.
func httpClient(cfg *config.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.Proxy != "" {
		u, err := url.Parse(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}, nil
}

func (in *Installer) doctorSpool(r *Report, daemonUp bool) {
	if fi, err := os.Stat(in.paths.Spool); err == nil {
		r.add(OK, fmt.Sprintf("spool %s (%s)", in.paths.Spool, HumanBytes(fi.Size())), "")
	} else if daemonUp {
		r.add(Warn, "no spool at "+in.paths.Spool+" although the daemon answers", "is another instance running with a different WEAVE_AGENTD_HOME?")
	} else {
		r.add(Warn, "no spool yet at "+in.paths.Spool+" (the daemon creates it when it first starts)", "weave-agentd start")
	}
	if fi, err := os.Stat(in.paths.Inbox); err == nil && fi.Size() > 0 && !daemonUp {
		r.add(Warn, fmt.Sprintf("the inbox holds %s of hook events waiting for the daemon", HumanBytes(fi.Size())), "weave-agentd start (it takes them in on start)")
	}
}

// doctorAgents adds what the agents that check their own settings find
// (transcript.Checker): check is CheckHooks or CheckTranscripts.
func (in *Installer) doctorAgents(r *Report, check func(transcript.Checker, string) []transcript.Finding) {
	for _, a := range transcript.Agents() {
		c, ok := a.(transcript.Checker)
		if !ok {
			continue
		}
		addFindings(r, check(c, in.agentHome(a)))
	}
}

// addFindings adds what an agent found: a warning, or a failure when its
// sessions are not traced until it is fixed.
func addFindings(r *Report, fs []transcript.Finding) {
	for _, f := range fs {
		l := OK
		switch {
		case f.Warn && f.Fail:
			l = Fail
		case f.Warn:
			l = Warn
		}
		r.add(l, f.Message, f.Fix)
	}
}

// HumanBytes formats a byte count for people (KiB, MiB, GiB).
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
