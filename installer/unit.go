package installer

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Service names.
const (
	// ServiceName is the systemd user unit's name (weave-agentd.service).
	ServiceName = "weave-agentd"
	// LaunchdLabel is the LaunchAgent's label (and plist name) on macOS.
	LaunchdLabel = "com.github.weave-agentd"
	// serviceDescription is the unit's Description.
	serviceDescription = "weave-agentd: Claude Code and Cursor activity as OpenTelemetry traces"
	docURL             = "https://github.com/weave-agentd/weave-agentd"
)

// UnitSpec is what the service files are rendered from.
type UnitSpec struct {
	Executable string // stable path of weave-agentd
	Home       string // WEAVE_AGENTD_HOME, only when the user set it
	LogDir     string // macOS: where launchd writes the daemon's stdout/stderr
}

// RenderSystemdUnit renders the systemd user unit. kardianos/service's own
// template is written for system services (WantedBy=multi-user.target,
// RestartSec=120, /etc/sysconfig), so we pass this one as SystemdScript.
func RenderSystemdUnit(s UnitSpec) string {
	var b strings.Builder
	b.WriteString("# Written by 'weave-agentd install'; rewritten on every install.\n")
	b.WriteString("[Unit]\n")
	b.WriteString("Description=" + serviceDescription + "\n")
	b.WriteString("Documentation=" + docURL + "\n")
	// Never give up restarting: a daemon whose job is not to lose data should
	// come back once, say, a full disk has room again.
	b.WriteString("StartLimitIntervalSec=0\n")
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=simple\n")
	b.WriteString("ExecStart=" + systemdQuote(s.Executable) + " run\n")
	b.WriteString("ExecReload=/bin/kill -HUP $MAINPID\n")
	b.WriteString("Restart=always\n")
	b.WriteString("RestartSec=2\n")
	// Except when the config file does not load (run exits with EX_CONFIG):
	// every restart would fail the same way. 'weave-agentd start' after the fix.
	b.WriteString("RestartPreventExitStatus=78\n")
	if s.Home != "" {
		b.WriteString("Environment=" + systemdQuote("WEAVE_AGENTD_HOME="+s.Home) + "\n")
	}
	b.WriteString("\n[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return b.String()
}

// systemdQuote quotes a word for ExecStart=/Environment= when needed and
// escapes % (a specifier) and backslashes.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\"'\\$;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

// RenderLaunchdPlist renders the LaunchAgent (passed as LaunchdConfig).
func RenderLaunchdPlist(s UnitSpec) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by 'weave-agentd install'; rewritten on every install. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + LaunchdLabel + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + xmlEscape(s.Executable) + `</string>
		<string>run</string>
	</array>
`)
	if s.Home != "" {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		b.WriteString("\t\t<key>WEAVE_AGENTD_HOME</key>\n\t\t<string>" + xmlEscape(s.Home) + "</string>\n")
		b.WriteString("\t</dict>\n")
	}
	b.WriteString(`	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ThrottleInterval</key>
	<integer>2</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>StandardOutPath</key>
	<string>` + xmlEscape(filepath.Join(s.LogDir, "weave-agentd.out.log")) + `</string>
	<key>StandardErrorPath</key>
	<string>` + xmlEscape(filepath.Join(s.LogDir, "weave-agentd.err.log")) + `</string>
</dict>
</plist>
`)
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// templateSafe refuses text that kardianos/service's template engine would
// interpret: it renders SystemdScript/LaunchdConfig as a template.
func templateSafe(s string) error {
	if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
		return fmt.Errorf("a path contains {{ or }}, which the service template engine cannot carry; set WEAVE_AGENTD_HOME to a plainer folder")
	}
	return nil
}
