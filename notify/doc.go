// Package notify sends clooster's alerts to the channels an operator names:
// the pushbullet block (Pushbullet, a client of the Pushbullet API) and URLs
// in shoutrrr's syntax (ParseURL checks one without sending, Open makes its
// Sender: shoutrrr's service, or one of the subpackages mail, telegram and
// webhook). A Hub gives each Channel a Queue of its own, so that a slow or
// dead channel delays no other and never a record update; a Queue retries a
// note with backoff until it is delivered, refused or ten minutes old, and
// holds a channel to a few messages a minute, folding the rest into one.
//
// Concurrency: a Pushbullet value may be used by several goroutines at once
// as long as its fields are not changed; a Sender from Open is used by one
// goroutine at a time (its Queue's). Hub.Notify and Queue.Notify are safe
// from any goroutine and never block; so is Hub.Replace, which changes the
// channels of a running hub without losing what waits in their queues.
// Hub.Run and Queue.Run are owned by one
// goroutine, which starts them once and stops them by cancelling their
// context. Run then tries to flush what is queued for at most about a
// second and returns.
//
// Nothing this package logs or returns contains a token or password: a
// channel's errors are stripped of its URL's secret parts.
package notify
