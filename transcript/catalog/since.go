package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSince turns a --since value into a cutoff time: a Go duration
// (90m, 24h, 1h30m), days or weeks, alone or followed by a Go duration (7d,
// 2w, 1d12h, 1.5d), or a date or time (2026-11-01, 2026-11-01T09:00,
// RFC 3339) in loc.
func ParseSince(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty --since: want a duration such as 7d or 24h, or a date such as 2026-11-01")
	}
	if d, err := parseAge(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: negative duration", s)
		}
		return now.Add(-d), nil
	}
	if loc == nil {
		loc = time.Local
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration such as 7d, 24h or 90m, or a date such as 2026-11-01", s)
}

// parseAge parses durations with day (d) and week (w) units in front of a
// Go duration.
func parseAge(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for _, unit := range []struct {
		suffix byte
		d      time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := strings.IndexByte(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad number %q", rest[:i])
		}
		total += time.Duration(n * float64(unit.d))
		rest = rest[i+1:]
	}
	if rest == "" {
		if total == 0 && s != "0d" && s != "0w" {
			return 0, fmt.Errorf("no duration in %q", s)
		}
		return total, nil
	}
	if total > 0 && strings.HasPrefix(rest, "-") {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	return total + d, nil
}
