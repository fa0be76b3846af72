package telegram

import "time"

// SetClock makes s read the time from now, for the memory of a note.
func SetClock(s *Sender, now func() time.Time) { s.now = now }
