package sim

// Regression is a seed that once broke an invariant, the fingerprint of
// its schedule, and what it found.
type Regression struct {
	Seed        int64
	Fingerprint string
	Found       string
}

// Regressions are the schedules that once broke an invariant: each stays a
// test (sim's TestRegressions, and failover's, for mutation testing). The
// fingerprint pins the schedule: if the generator changes, a seed replays
// another schedule, and the test says so rather than pass vacuously.
var Regressions = []Regression{
	{7, "22742209", "a deleted record retried for ever, 10 calls per job"},
	{26, "57dc02fc", "a takeover waited a minute for the look at a missing record"},
	{30, "eedc8bcc", "preferred value neither node's: both took it on a reset"},
	{38, "73ba7fec", "a node resumed from a freeze failed back at once over the peer's takeover"},
	{50, "f6965c5b", "a takeover cancelled by the link's return still wrote; the node never learned it"},
	{97, "0b735144", "a drift read answered 5 s late overwrote newer knowledge"},
	{99, "c9870996", "failback onto this node's service while its last check failed"},
	{164, "ffc6e731", "a one-sided disagreement verified every 5 s for ever, blocking the failback"},
	{165, "b31bcc2e", "two nodes read within a round trip: a race the checker must tell apart"},
	{172, "2676d889", "both nodes corrected a record found back from missing while linked"},
	{185, "7c3d7ca6", "an A-record node that does not know its peer's address corrected it (flips for ever)"},
	{212, "0b90cf77", "a cancelled write landed unknown: on_standby on the active node"},
	{297, "fe54b4fb", "a verification that raced the peer's write suppressed further ones"},
	{487, "5d63c061", "an episode begun with the record missing took the peer's value for its base"},
	{523, "9461d64a", "a takeover over a peer's write learned during an unhealthy spell"},
	{551, "c9e7cdf1", "a settled flag kept from the episode's first loss let a takeover through"},
	{735, "4498999e", "a peer without health checks took the record onto its dead service: never taken back"},
	{877, "92cc56ce", "a cancelled takeover landed after the failback: record left on the non-preferred node"},
	{1130, "63847839", "an operator's re-creation of the record counted as the peer's write"},
	{1153, "cc95ee00", "the owner's later takeover taken for its late failback"},
	{1162, "65487932", "a relinked node ignored the peer saying a missing record was back"},
	{1345, "29093df0", "preferred value neither node's: the peer kept believing it held the record"},
	{1718, "cdd608bf", "a stale read right after this node's write made it believe the write had not landed"},
	{1854, "f33a7807", "a health move waited for the minutely look at a missing record"},
	{1893, "f4c47489", "a stale claim skipped the handover on SIGTERM"},
	{2560, "ccbc30a9", "a health move on a live link counted as a takeover during a loss"},
	{2842, "c420afbe", "an operator's re-creation counted as the peer's unasked takeover, for a whole link"},
	{2985, "1417c7e0", "liveness judged before the nodes could know a re-created record"},
	{3062, "7db30193", "the preferred value taken for neither node's while the peer's value was unknown"},
	{3180, "cc28b25d", "keepalives buffered during a freeze moved the time the link was last good"},
	{3208, "81b84a66", "the tie pause too short for the preferred node's late detection"},
	{4065, "e4f9a65a", "a node started without a link ignored what its lookup had found"},
	{4186, "ac5f349f", "a write on peer_check's evidence, which the checker must accept"},
	{4235, "43e4e5b2", "a relink without keepalives moved the time the link was last good"},
	{5809, "8b7e9bf4", "a write whose answer timed out was not claimed: the peer took it back"},
	{6285, "9efdd4ca", "a takeover judged against the base at the loss, not what it learned since"},
	{7595, "bd01b46d", "a takeover that found the record already here did not count as holding it"},
	{8239, "ef3afd8a", "an evidence takeover wrote after the peer's service answered again"},
	{8483, "edefd018", "changed away and back, undated: outside edits aside"},
	{8577, "4ec3ac78", "agreeing on a missing record counted as agreeing"},
	{9267, "94e9cb8e", "no drift checks while the record was missing"},
	{9803, "6c1e4cab", "a health move wrote after the peer had recovered"},
	{10721, "4e196a42", "an episode never ended while the owner's health flapped on a held link"},
	{11372, "487df561", "a failback due long before the loss, never announced, excused a takeover"},
	{12349, "75608120", "a late owner after a freeze: a race the tie pause cannot cover"},
	{13906, "208fcf3b", "the owner's failback landed after it crashed: the survivor withheld"},
	{14813, "8e8d16d2", "a write within the clock margin of the peer's start"},
	{16155, "6a050a75", "the peer's claim, from a lookup older than this node's write, was trusted"},
	{19475, "5d6ff929", "a takeover during a loss, learned while unhealthy, counted as sanctioned"},
	{21317, "f17e1242", "beliefs judged before a paced verification could settle them"},
	{30145, "0fadbe5f", "a peer_check verdict from before a 42 s freeze acted on at once"},
	{33296, "4b73479b", "an undated failback, announced, never recognised"},
	{36214, "e5407611", "a failback on a link silent for most of a peer_timeout"},
}
