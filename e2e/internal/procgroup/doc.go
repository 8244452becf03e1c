// Package procgroup runs an agent CLI in its own process group, so that a
// timeout ends it together with the tools and hooks it started.
package procgroup
