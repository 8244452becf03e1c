package hookconfig

import (
	"path/filepath"
	"sort"
	"strings"
)

// HookBinaryName is the base name of the hook client. Handlers whose command
// runs a binary of this name are ours, wherever it lives, so a reinstall
// replaces them even after the binary moved.
const HookBinaryName = "weave-agentd-hook"

// DefaultTimeout is the per-handler timeout we write, in seconds. The hook
// client waits at most 200 ms for the daemon; 5 s only bounds a stuck disk.
const DefaultTimeout = 5

// Command is the handler command string: the absolute hook binary
// (shell-quoted when needed), preceded by env assignments (WEAVE_AGENTD_HOME
// for side-by-side installs, which a GUI-launched agent would not otherwise
// pass on). A plain command string, not the newer exec form (command + args),
// works with every agent version that has hooks (FORMATS.md §1.2).
//
// It carries no agent argument: the hook detects the agent from the payload,
// and the command is then byte-identical in Claude Code's settings and in
// Cursor's hooks.json, so Cursor — which also runs hooks imported from Claude
// Code's settings — can recognise the two as one handler.
func Command(spec Spec) string {
	var b strings.Builder
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(shellQuote(spec.Env[k]))
		b.WriteByte(' ')
	}
	b.WriteString(shellQuote(spec.HookBinary))
	return b.String()
}

// shellQuote leaves plain words alone and single-quotes anything else.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// splitWords splits a POSIX shell command line into words, honouring single
// and double quotes and backslashes. It stops at the first unquoted control
// operator (;, &, |), which is all recognising our handlers needs.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
			} else {
				cur.WriteString(s[i+1 : i+1+j])
				i += j + 1
			}
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == ';' || c == '&' || c == '|':
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// OurBinary reports whether command runs weave-agentd-hook and returns the
// binary as written. Leading VAR=value assignments and `env` are skipped.
func OurBinary(command string) (string, bool) {
	if bin, ok := ourBinary(splitWords(command)); ok {
		return bin, true
	}
	// Windows paths: backslashes are separators, not escapes.
	return ourBinary(strings.Fields(command))
}

func ourBinary(words []string) (string, bool) {
	for len(words) > 0 {
		w := words[0]
		if w == "env" || w == "exec" {
			words = words[1:]
			continue
		}
		if eq := strings.IndexByte(w, '='); eq > 0 && !strings.ContainsAny(w[:eq], "/\\") {
			words = words[1:]
			continue
		}
		break
	}
	if len(words) == 0 {
		return "", false
	}
	bin := words[0]
	base := filepath.Base(strings.ReplaceAll(bin, `\`, "/"))
	base = strings.TrimSuffix(strings.ToLower(base), ".exe")
	if base != HookBinaryName {
		return "", false
	}
	return bin, true
}
