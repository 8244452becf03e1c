package claude

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// The transcript's field names have one source of truth: the json tags on
// record and the types it holds. parseLine is a hand-written scanner that
// spells the names again; this test decodes every line of every Claude Code
// fixture both ways and requires that what the scanner extracts is what
// encoding/json finds under the tags. A scalar must match on every line; a
// nested object the scanner decodes only for some record types (message,
// data, toolUseResult, ...) must match wherever the scanner decoded it, and
// the scanner must decode it at least once where the fixtures have it.
func TestScannerMatchesJSONTags(t *testing.T) {
	fx := testkit.Fixtures(t)
	var files []string
	for _, root := range []string{filepath.Join(fx, "claude-code"), filepath.Join(fx, "synthetic"), filepath.Join("testdata", "claude-2.1.328")} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if !d.IsDir() && strings.HasSuffix(name, ".jsonl") && name != "hooks.jsonl" &&
				(!strings.Contains(p, "synthetic") || strings.HasPrefix(name, "claude-code")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatal("no Claude Code fixtures found")
	}
	c := &tagCheck{t: t, present: map[string]int{}, extracted: map[string]int{}, errs: map[string]int{}}
	lines := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if !json.Valid(line) || !isObject(bytes.TrimSpace(line)) {
				continue // blank, or a torn last line: not a question of names
			}
			r, err := parseLine(line)
			if err != nil {
				t.Errorf("%s:%d: parseLine: %v", f, i+1, err)
				continue
			}
			c.where = filepath.Base(f) + ":" + itoa(i+1)
			c.value("", reflect.ValueOf(r).Elem(), line)
			lines++
		}
	}
	var missed []string
	for p := range c.present {
		if c.extracted[p] == 0 {
			missed = append(missed, p)
		}
	}
	sort.Strings(missed)
	for p, n := range c.errs {
		if n > 3 {
			t.Errorf("%s: %d mismatches in all", p, n)
		}
	}
	for _, p := range missed {
		t.Errorf("%s: present %d times in the fixtures, never extracted by the scanner (a name the scanner spells differently from the json tag?)", p, c.present[p])
	}
	if lines < 1000 {
		t.Errorf("only %d lines checked in %d files: fixtures missing?", lines, len(files))
	}
	t.Logf("%d lines of %d files; %d nested paths extracted", lines, len(files), len(c.extracted))
}

type tagCheck struct {
	t     *testing.T
	where string // file:line, for messages
	// present counts the nested objects (by path) the JSON holds where the
	// scanner left them out; extracted counts those it decoded.
	present, extracted map[string]int
	errs               map[string]int // per path, to show a few of each
}

// errorf reports a mismatch at path; the first few of each path only.
func (c *tagCheck) errorf(path, format string, args ...any) {
	c.t.Helper()
	if c.errs[path]++; c.errs[path] <= 3 {
		c.t.Errorf(format, args...)
	}
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	contentType     = reflect.TypeFor[content]()
	sysContentType  = reflect.TypeFor[sysContent]()
	cappedDataType  = reflect.TypeFor[cappedData]()
	toolResultType  = reflect.TypeFor[toolUseResult]()
	messageType     = reflect.TypeFor[message]()
	maxComparedText = maxLineText // longer texts may be cut by the line budget
)

// value compares the scanner's sv with the JSON raw at path.
func (c *tagCheck) value(path string, sv reflect.Value, raw []byte) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if !sv.IsZero() {
			c.errorf(path, "%s %s: scanner %s, encoding/json finds nothing under the tag", c.where, path, show(sv))
		}
		return
	}
	switch sv.Type() {
	case rawMessageType:
		if sv.Len() == 0 {
			c.present[path]++
			return
		}
		c.extracted[path]++
		if !bytes.Equal(sv.Bytes(), raw) {
			c.errorf(path, "%s %s: scanner kept %.80s, encoding/json %.80s", c.where, path, sv.Bytes(), raw)
		}
		return
	case contentType:
		c.content(path, sv.Interface().(content), raw)
		return
	case sysContentType:
		var want string
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		if got := sv.Interface().(sysContent).Text; got == "" {
			c.present[path]++ // decoded for system records only
		} else {
			c.extracted[path]++
			if got != want {
				c.errorf(path, "%s %s: scanner %q, encoding/json %q", c.where, path, got, want)
			}
		}
		return
	case cappedDataType:
		var want string
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		got := sv.Interface().(cappedData)
		if got.Size != len(raw)-2 || (len(raw) <= maxInlineImage+2 && got.Data != want) {
			c.errorf(path, "%s %s: scanner %d bytes %.40q, encoding/json %d bytes %.40q", c.where, path, got.Size, got.Data, len(raw)-2, want)
		}
		return
	case toolResultType:
		tr := sv.Interface().(toolUseResult)
		if raw[0] == '"' {
			var want string
			_ = json.Unmarshal(raw, &want)
			if !tr.IsStr || (len(raw) <= maxResultString && tr.Str != want) {
				c.errorf(path, "%s %s: scanner %q (string: %v), encoding/json %.80q", c.where, path, tr.Str, tr.IsStr, want)
			}
			return
		}
		c.fields(path, sv, raw)
		return
	}
	switch sv.Kind() {
	case reflect.Pointer:
		if sv.Type().Elem().Kind() == reflect.Struct {
			if raw[0] != '{' {
				return
			}
			if sv.IsNil() {
				c.present[path]++ // decoded only for some record types
				return
			}
			c.extracted[path]++
			c.value(path, sv.Elem(), raw)
			return
		}
		c.scalar(path, sv, raw)
	case reflect.Struct:
		c.fields(path, sv, raw)
	case reflect.Map:
		if raw[0] != '{' {
			return
		}
		if sv.IsNil() {
			c.present[path]++
			return
		}
		c.extracted[path]++
		c.scalar(path, sv, raw)
	default:
		c.scalar(path, sv, raw)
	}
}

// scalar requires sv to equal what encoding/json decodes from raw into its
// type. A JSON value of another type is not a question of names: skipped.
func (c *tagCheck) scalar(path string, sv reflect.Value, raw []byte) {
	want := reflect.New(sv.Type())
	if json.Unmarshal(raw, want.Interface()) != nil {
		return
	}
	if !reflect.DeepEqual(sv.Interface(), want.Elem().Interface()) {
		c.errorf(path, "%s %s: scanner %s, encoding/json %s", c.where, path, show(sv), show(want.Elem()))
	}
}

// fields walks the tagged fields of the struct sv against the object raw.
func (c *tagCheck) fields(path string, sv reflect.Value, raw []byte) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return
	}
	for i := range sv.NumField() {
		f := sv.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if sv.Type() == messageType && name == "content" && sv.Interface().(message).Truncated {
			continue // cut by the line budget on purpose
		}
		c.value(path+"."+name, sv.Field(i), obj[name])
	}
}

// content compares a message's (or a block's) content: a string, or an
// array whose objects are blocks.
func (c *tagCheck) content(path string, got content, raw []byte) {
	switch raw[0] {
	case '"':
		var want string
		_ = json.Unmarshal(raw, &want)
		if len(want) > maxComparedText {
			return
		}
		if !got.IsText || got.Text != want {
			c.errorf(path, "%s %s: scanner %.80q (text: %v), encoding/json %.80q", c.where, path, got.Text, got.IsText, want)
		}
	case '[':
		var els []json.RawMessage
		if json.Unmarshal(raw, &els) != nil || got.Dropped > 0 {
			return
		}
		var objs []json.RawMessage
		for _, el := range els {
			if isObject(bytes.TrimSpace(el)) {
				objs = append(objs, el)
			}
		}
		if len(objs) != len(got.Blocks) {
			c.errorf(path, "%s %s: scanner %d blocks, encoding/json %d", c.where, path, len(got.Blocks), len(objs))
			return
		}
		for i, el := range objs {
			c.fields(path+"[]", reflect.ValueOf(got.Blocks[i]), el)
		}
	}
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	b, _ := json.Marshal(v.Interface())
	if len(b) > 120 {
		b = append(b[:120], "…"...)
	}
	return string(b)
}
