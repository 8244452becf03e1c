package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadRawKeepsOnlyWhatIsSet(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	c, exists, err := LoadRaw(p)
	if err != nil || exists || !reflect.DeepEqual(*c, Config{}) {
		t.Fatalf("missing file: %+v %v %v", c, exists, err)
	}
	os.WriteFile(p, []byte("endpoint = \"http://x:4318/v1/traces\"\n[headers]\nk = \"v\"\n"), 0o600)
	c, exists, err = LoadRaw(p)
	want := Config{Endpoint: "http://x:4318/v1/traces", Headers: map[string]string{"k": "v"}}
	if err != nil || !exists || !reflect.DeepEqual(*c, want) {
		t.Fatalf("got %+v %v %v (no defaults may be filled in)", c, exists, err)
	}
	// SaveSparse then LoadRaw round-trips without adding defaults.
	no := false
	c.CaptureHost = &no
	c.Exclude = []string{"/secret/*"}
	c.MaxAttributeBytes = 1024
	if err := SaveSparse(p, c); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "spool_max_bytes") || strings.Contains(string(b), "log_level") || strings.Contains(string(b), `""`) {
		t.Errorf("unset keys written:\n%s", b)
	}
	back, _, err := LoadRaw(p)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %+v %v\n%s", back, err, b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	os.WriteFile(p, []byte("endpiont = \"x\"\n"), 0o600)
	if _, _, err := LoadRaw(p); err == nil || !strings.Contains(err.Error(), "endpiont") {
		t.Errorf("unknown key: %v", err)
	}
	os.WriteFile(p, []byte("content = \"all\"\n"), 0o600)
	if _, _, err := LoadRaw(p); err == nil {
		t.Error("invalid content accepted")
	}
}
