package failover

import (
	"log/slog"
	"time"
)

// scheduleDrift reads the record every drift interval: while linked only
// the failback owner does (one node's reads are enough), otherwise each.
func (s *State) scheduleDrift(c *Config, now time.Time, acts []Action) []Action {
	if c.DriftInterval <= 0 || now.Before(s.driftNext) || s.job != nil {
		return acts
	}
	s.driftNext = now.Add(c.DriftInterval)
	if s.link && (!s.owner(c) || !s.failbackDone) {
		return acts
	}
	return append(acts, ActRead{Drift: true})
}

// drift judges what a drift check read.
func (s *State) drift(c *Config, content string, now time.Time, acts []Action) []Action {
	valid := content == c.ThisValue || content == s.peerValue
	want := c.ThisValue
	if s.link {
		want = c.Preferred
	}
	switch {
	case content == want:
		s.driftReported = ""
		return acts
	case !valid:
		// Pointing at neither node: correct it.
		acts = append(acts, ActLog{slog.LevelWarn, LogDriftCorrected, "record points at neither node; correcting", []any{"content", content, "want", want}})
		s.driftReported = content
		return s.start(c, Correction, want, true, titleCorrected(c), now, acts)
	case content == s.peerValue && !s.link:
		// The peer holds it although the link is down: the peer (or an
		// operator) acted during this episode, so the peer is alive.
		s.driftReported = content
		return s.withhold(c, content, now, acts)
	}
	if s.driftReported != content {
		s.driftReported = content
		acts = append(acts,
			ActLog{slog.LevelWarn, LogDriftValid, "record changed outside to a valid value; leaving it", []any{"content", content}},
			alertEditedValid(c, content))
	}
	return acts
}
