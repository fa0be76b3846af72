package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// start begins a job of purpose p: make the record hold content.
func (s *State) start(c *Config, p Purpose, content string, announce bool, title string, now time.Time, acts []Action) []Action {
	s.jobSeq++
	s.job = &job{id: s.jobSeq, content: content, purpose: p, announce: announce, title: title, since: now}
	a := ActEnsure{Job: s.jobSeq, Purpose: p, Content: content}
	if p == Takeover || p == Correction && !s.link {
		// The write rule: only over what the record held when the link
		// was last up; the preferred node wins ties.
		a.Base, a.Peer, a.Yield, a.Since = s.base, s.peerValue, !s.owner(c), s.lastHeard
	}
	return append(acts, a,
		ActLog{slog.LevelInfo, p.String() + logStartedSuffix, "checking the record", []any{"want", content}})
}

func (s *State) attempt(c *Config, ev EvAttempt, acts []Action) []Action {
	if s.job == nil || ev.Job != s.job.id {
		return acts
	}
	j := s.job
	j.failures++
	j.lastErr = ev.Err
	if logAttempt(j.failures) {
		acts = append(acts, ActLog{slog.LevelWarn, LogUpdateFailed, "record update failed; retrying",
			[]any{"want", j.content, "attempt", j.failures, "error", ev.Err}})
	}
	if j.failures == 1 {
		acts = append(acts, alertUpdateFailing(c, j.title, ev.Err, j.content))
	}
	return acts
}

func (s *State) done(c *Config, ev EvDone, acts []Action) []Action {
	if s.job == nil || ev.Job != s.job.id {
		return acts
	}
	j := s.job
	s.job = nil
	s.record, s.recordAt = ev.Content, ev.At
	if ev.Withheld {
		return s.withhold(c, ev.Content, ev.At, acts)
	}
	if ev.Changed {
		acts = append(acts, ActLog{slog.LevelWarn, LogRecordUpdated, "record updated",
			[]any{"record", c.Record, "content", ev.Content, "purpose", j.purpose.String(), "took", ev.At.Sub(j.since).Round(time.Millisecond)}})
	} else {
		acts = append(acts, ActLog{slog.LevelInfo, LogRecordUnchanged, "record already right",
			[]any{"record", c.Record, "content", ev.Content}})
	}
	switch {
	case j.failures > 0:
		acts = append(acts, alertDelayed(c, j.title, ev, j.failures, ev.At.Sub(j.since), j.lastErr))
	case ev.Changed:
		acts = append(acts, ActNotify{Title: j.title,
			Body: fmt.Sprintf("The address for '%s' has been changed to '%s'", c.Record, ev.Content)})
	case j.announce:
		acts = append(acts, ActNotify{Title: j.title, Body: "No record change is necessary"})
	}
	return acts
}
