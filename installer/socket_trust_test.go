package installer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// A socket that another user controls will not become ours by waiting:
// install says so at once, with the fix, instead of timing out on "the
// daemon did not answer".
func TestInstallStopsWaitingOnAnUntrustedSocket(t *testing.T) {
	w := newWorld(t)
	in := w.installer()
	in.s.StartTimeout = 20 * time.Second
	in.s.Prober = ProbeFunc(func(context.Context) error {
		return &hooks.UntrustedError{Kind: "socket folder", Path: "/tmp/weave-agentd-1000", Reason: "belongs to another user", UID: 65534}
	})
	err := in.Install(context.Background(), Options{})
	if _, ok := errors.AsType[*hooks.UntrustedError](err); !ok || !strings.Contains(err.Error(), "hint: another user may have created it") {
		t.Fatalf("install: %v, want the untrusted socket and its fix", err)
	}
}
