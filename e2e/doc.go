// Package e2e tests the built clooster binary as users run it: separate
// processes on loopback, a server and a client that link over TLS, with the
// Cloudflare and Pushbullet APIs replaced by the local stand-ins of
// internal/fakecf and internal/fakepb, hosted in the test process. Records
// kept by RFC 2136 live on a real BIND 9 or Knot DNS that internal/dnstest
// starts on loopback for the test (missing, the test skips; under CI=true
// it fails); each node reaches it through a proxy of the test that sees
// its updates. Faults come from outside, as in production: SIGKILL, SIGSTOP
// and SIGCONT, SIGTERM, API errors, a link cut by a proxy, a name server
// stopped, an outside update racing a node's, an intruder with the wrong
// key, a wrong TSIG key, stray CLOUDFLARE_* variables. Two nodes whose
// configurations disagree (keys, names, roles, timings, preferred values,
// clocks, link protocol versions, the last against stand-ins of version 1
// written in the tests) must each say so, once.
//
// TestMain builds the binary once into a temporary directory. Every test
// starts its own processes with their own ports and stand-ins, so the tests
// run in parallel; every process is killed when its test ends, pass or fail,
// its output is checked for the secrets of its configuration, and shown
// when the test fails. The build, the stand-ins, the nodes' configurations
// and processes are internal/pairtest's, shared with the fault suite and
// the bench. Nothing talks to an address
// other than 127.0.0.1, but for the two servers of TestBothServers, which
// listen on one port of 127.0.0.1 and of 127.0.0.2. The package is skipped
// under -short.
//
// The package holds no code outside its tests.
package e2e
