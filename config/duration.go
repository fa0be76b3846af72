package config

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("500ms",
// "5s") or a number of seconds (5, 0.5). It marshals as a string.
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

var errDuration = errors.New(`want a duration like "5s" or a number of seconds`)

// ParseDuration reads a Go duration string ("1m30s") or a decimal number of
// seconds ("5", "0.5").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "xXnN_") {
		// ParseFloat also takes hex, "Inf", "NaN" and underscores: not seconds.
		return 0, errDuration
	}
	ns := math.Round(f * float64(time.Second))
	if ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return 0, errors.New("duration out of range")
	}
	return Duration(ns), nil
}
