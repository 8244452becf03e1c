package hookconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Spec is what we register.
type Spec struct {
	HookBinary string            // absolute path of weave-agentd-hook
	Events     []string          // nil: every event of the agent (Claude Code: as for an unknown, recent version)
	Timeout    int               // seconds; 0: DefaultTimeout
	Env        map[string]string // assignments put before the command (WEAVE_AGENTD_HOME)
}

func (s Spec) events(agent Agent) ([]string, error) {
	if s.Events != nil {
		return s.Events, checkEvents(agent, s.Events)
	}
	return Events(agent, Version{})
}

func (s Spec) timeout(agent Agent) int {
	switch {
	case s.Timeout > 0:
		return s.Timeout
	case agent.Timeout > 0:
		return agent.Timeout
	}
	return DefaultTimeout
}

// claudeHandler and cursorHandler fix the key order of what we write.
type claudeHandler struct {
	Type    string `json:"type"`
	Command string `json:"command"`
	Timeout int    `json:"timeout"`
}

type cursorHandler struct {
	Command string `json:"command"`
	Timeout int    `json:"timeout"`
}

type claudeGroup struct {
	Matcher string            `json:"matcher,omitempty"`
	Hooks   []json.RawMessage `json:"hooks"`
}

// edit applies our registration (events, possibly none) to a config
// document and returns the new document compactly encoded. Only handlers
// running weave-agentd-hook are touched: the first one found for a wanted
// event is replaced in place (so a reinstall does not move it), every other
// one is removed, and a wanted event without one gets a new entry at its end.
func edit(agent Agent, doc []byte, events []string, spec Spec) ([]byte, error) {
	f, err := checkAgent(agent)
	if err != nil {
		return nil, err
	}
	root, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, e := range events {
		want[e] = true
	}
	rawHooks, hadHooks := root.get("hooks")
	var hooksObj object
	if hadHooks {
		if hooksObj, err = parseObject(rawHooks); err != nil {
			return nil, fmt.Errorf(`"hooks" is not an object (%v); refusing to guess what it means`, err)
		}
	}
	hadAny := len(hooksObj) > 0
	removedAny := false
	handler := handlerJSON(f, f.command(spec), f.timeout(spec))

	var next object
	present := map[string]bool{}
	for _, m := range hooksObj {
		present[m.key] = true
		entries, err := parseArray(m.raw)
		if err != nil {
			if want[m.key] {
				return nil, fmt.Errorf(`hooks.%s is not an array; refusing to guess what it means`, m.key)
			}
			next = append(next, m) // not ours to judge
			continue
		}
		var edited []json.RawMessage
		var removed bool
		if f.Flat {
			edited, removed = editCursorHandlers(entries, want[m.key], handler)
		} else {
			edited, removed = editClaudeGroups(f, entries, want[m.key], m.key, handler)
		}
		removedAny = removedAny || removed
		if len(edited) == 0 && removed {
			continue // the event held only our entries
		}
		next = append(next, member{key: m.key, raw: marshalArray(edited)})
	}
	for _, e := range events {
		if !present[e] {
			entry := handler
			if !f.Flat {
				entry = claudeGroupJSON(f, e, handler)
			}
			next = append(next, member{key: e, raw: marshalArray([]json.RawMessage{entry})})
		}
	}
	switch {
	case len(next) > 0:
		root.set("hooks", next.marshal())
	case hadHooks && hadAny && removedAny:
		root.del("hooks") // it held only ours
	case hadHooks:
		root.set("hooks", next.marshal())
	}
	if f.Flat && len(root) > 0 && root.index("version") < 0 && !hadHooks {
		// A new hooks.json (or one without hooks yet): Cursor's format
		// starts with "version": 1.
		root = append(object{{key: "version", raw: json.RawMessage("1")}}, root...)
	}
	return root.marshal(), nil
}

func handlerJSON(f Agent, command string, timeout int) json.RawMessage {
	if f.Flat {
		return marshalValue(cursorHandler{Command: command, Timeout: timeout})
	}
	return marshalValue(claudeHandler{Type: "command", Command: command, Timeout: timeout})
}

func claudeGroupJSON(f Agent, event string, handler json.RawMessage) json.RawMessage {
	g := claudeGroup{Hooks: []json.RawMessage{handler}}
	if f.Tools[event] {
		g.Matcher = "*"
	}
	return marshalValue(g)
}

// isOurs reports whether a handler object runs weave-agentd-hook.
func isOurs(raw json.RawMessage) (string, bool) {
	h, err := parseObject(raw)
	if err != nil {
		return "", false
	}
	cmd, ok := h.stringField("command")
	if !ok {
		return "", false
	}
	return OurBinary(cmd)
}

// editClaudeGroups edits one event's matcher groups.
func editClaudeGroups(f Agent, groups []json.RawMessage, wanted bool, event string, handler json.RawMessage) ([]json.RawMessage, bool) {
	var out []json.RawMessage
	done, removed := false, false
	for _, gRaw := range groups {
		g, err := parseObject(gRaw)
		if err != nil {
			out = append(out, gRaw)
			continue
		}
		hRaw, ok := g.get("hooks")
		if !ok {
			out = append(out, gRaw)
			continue
		}
		handlers, err := parseArray(hRaw)
		if err != nil {
			out = append(out, gRaw)
			continue
		}
		var keep []json.RawMessage
		ours, replacedHere := 0, false
		for _, h := range handlers {
			if _, mine := isOurs(h); !mine {
				keep = append(keep, h)
				continue
			}
			ours++
			if wanted && !done && len(handlers) > 1 {
				keep = append(keep, handler) // shared with the user's handlers: replace in place
				done, replacedHere = true, true
			}
		}
		switch {
		case ours == 0:
			out = append(out, gRaw)
		case len(handlers) == 1 && wanted && !done:
			out = append(out, claudeGroupJSON(f, event, handler)) // our own group: rewrite it whole
			done = true
		case len(keep) == 0:
			removed = true // the group held only ours
		default:
			if ours > 1 || !replacedHere {
				removed = true // at least one of ours dropped
			}
			g.set("hooks", marshalArray(keep))
			out = append(out, g.marshal())
		}
	}
	if wanted && !done {
		out = append(out, claudeGroupJSON(f, event, handler))
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return out, removed
}

// editCursorHandlers edits one event's handler list.
func editCursorHandlers(handlers []json.RawMessage, wanted bool, handler json.RawMessage) ([]json.RawMessage, bool) {
	out := []json.RawMessage{}
	done, removed := false, false
	for _, h := range handlers {
		if _, mine := isOurs(h); !mine {
			out = append(out, h)
			continue
		}
		if wanted && !done {
			out = append(out, handler)
			done = true
			continue
		}
		removed = true
	}
	if wanted && !done {
		out = append(out, handler)
	}
	return out, removed
}

// Entry is one handler of ours found in a config file.
type Entry struct {
	Event   string
	Command string
	Binary  string // as written in the command
}

// entries lists our handlers in file order.
func entries(agent Agent, doc []byte) ([]Entry, error) {
	f, err := checkAgent(agent)
	if err != nil {
		return nil, err
	}
	root, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	rawHooks, ok := root.get("hooks")
	if !ok {
		return nil, nil
	}
	hooksObj, err := parseObject(rawHooks)
	if err != nil {
		return nil, fmt.Errorf(`"hooks" is not an object`)
	}
	var out []Entry
	add := func(event string, h json.RawMessage) {
		if bin, ok := isOurs(h); ok {
			o, _ := parseObject(h)
			cmd, _ := o.stringField("command")
			out = append(out, Entry{Event: event, Command: cmd, Binary: bin})
		}
	}
	for _, m := range hooksObj {
		list, err := parseArray(m.raw)
		if err != nil {
			continue
		}
		for _, item := range list {
			if f.Flat {
				add(m.key, item)
				continue
			}
			g, err := parseObject(item)
			if err != nil {
				continue
			}
			hRaw, ok := g.get("hooks")
			if !ok {
				continue
			}
			hs, err := parseArray(hRaw)
			if err != nil {
				continue
			}
			for _, h := range hs {
				add(m.key, h)
			}
		}
	}
	return out, nil
}

// compactEqual reports whether two documents are the same JSON text apart
// from insignificant whitespace.
func compactEqual(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
