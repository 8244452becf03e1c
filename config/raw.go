package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/weave-agentd/weave-agentd/internal/regular"

	"github.com/BurntSushi/toml"
)

// readRegular reads the file at path only if it is a regular file, without
// blocking on a FIFO: it would otherwise hold a reloading daemon's signal
// handling (SIGTERM included) or `start`.
func readRegular(path string) ([]byte, error) {
	f, _, err := regular.Open(path)
	if nr, ok := errors.AsType[*regular.NotRegularError](err); ok {
		return nil, fmt.Errorf("%s is not a regular file (%s): make it one", path, nr.Mode.Type())
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// LoadRaw reads path like Load but fills in no defaults, for tools that
// rewrite the file (install) and must not write values the user never set.
// A missing file yields an empty Config and exists = false.
func LoadRaw(path string) (c *Config, exists bool, err error) {
	c = &Config{}
	b, err := readRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read config: %w", err)
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(c)
	if err != nil {
		return nil, true, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, true, fmt.Errorf("config %s%s: unknown key(s) %s (see README.md for the documented keys)", path, lineOf(b, und[0][len(und[0])-1]), strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		var ke *KeyError
		line := ""
		if errors.As(err, &ke) {
			line = lineOf(b, ke.Key)
		}
		return nil, true, fmt.Errorf("config %s%s: %w", path, line, err)
	}
	return c, true, nil
}

// lineOf returns ", line N" for the first line of a TOML file that sets key
// (key = …), or "" when no line does.
func lineOf(b []byte, key string) string {
	for i, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimSpace(l)
		rest, ok := bytes.CutPrefix(bytes.TrimLeft(l, `"'`), []byte(key))
		if ok && bytes.HasPrefix(bytes.TrimLeft(bytes.TrimLeft(rest, `"'`), " \t"), []byte("=")) {
			return fmt.Sprintf(", line %d", i+1)
		}
	}
	return ""
}

// SaveSparse writes the config like Save (atomically, mode 0600) but only
// the keys that are set, in the documented order, so a file written by
// install stays short and readable and picks up future defaults.
func SaveSparse(path string, c *Config) error {
	var buf bytes.Buffer
	buf.WriteString("# weave-agentd configuration. Keys are documented in README.md.\n")
	v := reflect.ValueOf(*c)
	t := v.Type()
	var tables []int
	for i := 0; i < t.NumField(); i++ {
		fv := v.Field(i)
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		switch {
		case key == "" || key == "-" || fv.IsZero():
			continue
		case (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0:
			continue
		case fv.Kind() == reflect.Map:
			tables = append(tables, i) // tables go after the plain keys
			continue
		case fv.Kind() == reflect.Pointer:
			fv = fv.Elem()
		}
		if err := toml.NewEncoder(&buf).Encode(map[string]any{key: fv.Interface()}); err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
	}
	for _, i := range tables {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		buf.WriteByte('\n')
		if err := toml.NewEncoder(&buf).Encode(map[string]any{key: v.Field(i).Interface()}); err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
	}
	return writePrivate(path, buf.Bytes())
}

// writePrivate replaces path atomically with a 0600 file.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create config folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.toml")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
