// Package notify sends clooster's alerts: a Pushbullet client that makes one
// push per call, and a Queue that sends notes in the background, retrying
// them, so that an alert never delays a record update.
//
// Concurrency: a Pushbullet value may be used by several goroutines at once
// as long as its fields are not changed. Queue.Notify is safe from any
// goroutine and never blocks; Queue.Run is owned by one goroutine, which
// starts it once and stops it by cancelling its context. Run then tries to
// flush what is queued for at most about a second and returns.
//
// Nothing this package logs or returns contains the access token.
package notify
