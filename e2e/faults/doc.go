// Package faults is clooster's fault-injection suite: it asks whether the
// daemon tells a dead or hung peer from a bad network, on real processes
// across a real (virtual) link, and reports the figures, not just pass or
// fail. It needs root, ip (iproute2) and nft (nftables), and runs only with
// the build tag faults:
//
//	go test -tags faults -count=1 -v ./e2e/faults/                            # short profile, < 5 min
//	go test -tags faults -count=1 -timeout 3h -v ./e2e/faults/ -args -long    # long profile (also CLOOSTER_FAULTS_LONG=1)
//	go test -tags faults -count=1 -timeout 3h -v -run TestDetectorTradeoff ./e2e/faults/ \
//	    -args -settings 1s/5s,500ms/3s,500ms/2.5s,250ms/2s -trials 10 -minutes 2
//
// (-count=1: the suite builds the binary itself, so go test's cache cannot
// tell when a result is stale.) Without root, ip or nft every test skips and
// says what is missing; in CI: apt-get install -y iproute2 nftables. Every
// profile also takes -report FILE, which writes its tables to FILE in
// markdown, and -logs, which logs the nodes' output of every scenario, not
// only of failed ones. One scenario alone: -run 'TestFaults/scenario/blackhole$'.
//
// Each scenario's expected outcome, worked out from SPEC's Behaviour rules
// (and chosen, where SPEC is silent, as its comment says), is written above
// the function that runs it in scenarios_test.go.
//
// # What it builds
//
// The binary is built once with go build. Each scenario gets its own lab:
// two network namespaces, clst-a-<pid>-<slot> and clst-b-<pid>-<slot>,
// joined by a veth pair "link0" (198.18.0.1/30 in A, 198.18.0.2/30 in B),
// and each joined to the root namespace by a veth "api0" (A: 198.19.<slot>.1
// in the namespace, 198.19.<slot>.2 in the root namespace; B: .5 and .6).
// Only addresses of the benchmarking range 198.18.0.0/15 are used, there are
// no default routes, and nothing is sent anywhere else. The test process
// hosts a fake Cloudflare API (internal/fakecf, under /client/v4) and a fake
// Pushbullet (internal/fakepb, under /v2), one set per scenario, listening
// on that scenario's two root-side addresses only. Node A (srv1, role server,
// the preferred value) runs in namespace A with ip netns exec, node B (srv2,
// role client, dialling 198.18.0.1) in namespace B; their status listeners
// are on their api0 addresses, port 9797. Scenarios run in parallel, one lab
// each, which is how the short profile stays under five minutes.
// The helpers of internal/pairtest, shared with the end-to-end tests and
// the bench, build the binary, serve the fakes, write the nodes'
// configurations and run their processes.
//
// Faults come from outside: nftables rules in namespace A on link0 only
// (blackhole, one-way drops, random loss with numgen, TCP resets with
// reject), signals to the processes (SIGKILL, SIGSTOP and SIGCONT, SIGTERM,
// restarts), and the fakes' own fault injection (5xx bursts, 429 with
// Retry-After, latency, an API that drops every connection, a Pushbullet
// that is down, an out-of-band edit of the record).
//
// Timing keys are left at their defaults (keepalive_interval and
// peer_timeout are never set, except by TestDetectorTradeoff) so that the
// figures are those of the defaults; the effective values are read back
// through the config package, so the limits follow the defaults when they
// change. Scenarios whose subject is not failback shorten failback_delay to
// 5 s, and say so in the table.
//
// Every namespace, interface and process is removed when its scenario ends,
// pass, fail or panic (t.Cleanup), and on SIGINT or SIGTERM; a run also
// starts by removing namespaces left by runs of the suite that no longer
// exist. A namespace or interface still present after its cleanup fails the
// scenario.
//
// # Quorum mode
//
// TestClusterFaults is the same suite for quorum mode (cluster.nodes[]),
// in two shapes: three nodes (srv1, srv2, srv3, priorities 1, 2, 3) and
// two nodes and a witness. One scenario alone:
// -run 'TestClusterFaults/scenario/q-kill9-leader$'; the long profile adds
// 20 (-trials N) kill -9 and SIGSTOP trials of the leader per shape, whose
// percentiles are the quorum timings to quote.
//
// Each scenario's lab is four namespaces: clsq-1-<pid>-<slot>,
// clsq-2-..., clsq-3-... for the members and clsq-h-... holding a bridge
// br0. Each member has one port on the bridge, "clu0", with 198.18.0.1,
// .2 or .3/24: the address the others reach it at (port 4096). A bridge
// rather than a triangle of veth pairs, so that a member has one address
// on one interface, as a host on a LAN does, with no host routes; a fault
// between two members only is then one nft rule naming the other's
// address. Each member also has a veth api0 to the root namespace
// (198.19.<slot>.1, .5, .9 in the namespaces, .2, .6, .10 in the root
// namespace), for the fakes and its status listener; the slots are shared
// with the pair labs, under the same lock. Faults are nft rules in a
// member's namespace on clu0 only: cut off both ways, one way, the path
// to one other member only, and random loss (numgen) on every member's
// output, so that each path loses that share each way. The members run
// the lan preset; writes are told apart by their content (each node
// writes its own name) and by each node's log ("record moved").
// Scenarios whose subject is not failback run failback_delay 5 s.
//
// The package holds no code outside its tests.
package faults
