package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The hook runs on every agent event; linking OTel, gRPC, bbolt or fsnotify
// would cost milliseconds of package initialisation per event.
func TestImportGraphStaysMinimal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/weave-agentd/weave-agentd/hooks" && pkg != "github.com/weave-agentd/weave-agentd/cmd/weave-agentd-hook" {
			t.Errorf("weave-agentd-hook imports %s; it must import only the standard library and our hooks package", pkg)
		}
	}
}
