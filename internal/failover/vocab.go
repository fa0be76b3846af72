package failover

// The vocabularies of the machine: names that logs, metrics, hooks and the
// status page show, and that operators match on. They are stable.

// Log events: the "event" attribute of every log line the machine writes,
// and the label of clooster_events_total.
const (
	LogFrozen            = "frozen"
	LogLinkUp            = "link_up"
	LogLinkReplaced      = "link_replaced"
	LogLinkDown          = "link_down"
	LogPeerAlive         = "peer_alive"
	LogPeerRestarting    = "peer_restarting"
	LogFailbackLanded    = "failback_landed"
	LogRestarting        = "restarting"
	LogPeerUp            = "peer_up"
	LogPeerDown          = "peer_down"
	LogPeerHealthUp      = "peer_health_up"
	LogPeerHealthDown    = "peer_health_down"
	LogPeerStopping      = "peer_stopping"
	LogHealthUp          = "health_up"
	LogHealthDown        = "health_down"
	LogBothUnhealthy     = "both_unhealthy"
	LogTakeoverAbandoned = "takeover_abandoned"
	LogUpdateDropped     = "update_dropped"
	LogFlapHold          = "flap_hold"
	LogFailbackHeld      = "failback_held"
	LogPeerTook          = "peer_took_record"
	LogGuardWithhold     = "guard_withhold"
	LogGuardRelease      = "guard_release"
	LogDriftCorrected    = "drift_corrected"
	LogDriftValid        = "drift_valid"
	LogHandingOver       = "handing_over"
	LogUpdateFailed      = "record_update_failed"
	LogRecordUpdated     = "record_updated"
	LogRecordUnchanged   = "record_unchanged"
	LogRecordFound       = "record_found"
	LogReadFailed        = "record_read_failed"
	LogRecordMissing     = "record_missing"
	LogRecordBack        = "record_back"
	LogContested         = "guard_contested"
	LogPeerValue         = "peer_value_differs"
	LogWriteConflict     = "write_conflict"
	// A job's start is logged as its purpose and "_started":
	// takeover_started, failback_started, health_started,
	// handover_started... (see Purpose).
	logStartedSuffix = "_started"
)

// Alert events: what an alert is about, the words notify[].events filters on.
const (
	AlertDown     = "down"     // the peer is gone (or stopping): the record moves here
	AlertUp       = "up"       // the peer is back: the record returns to the preferred node
	AlertFailed   = "failed"   // a record update failed, was delayed, or cannot be made
	AlertWithheld = "withheld" // a move this node does not make, and why
	AlertDrift    = "drift"    // the record was edited outside the pair
	AlertHealth   = "health"   // a service's health moved the record, or both are unhealthy
	AlertTest     = "test"     // a test message (clooster notify-test)
	AlertMismatch = "mismatch" // the two nodes disagree: keys, names, roles, settings, clocks
	AlertReload   = "reload"   // a reload of the configuration failed: the node runs on the old one
	AlertQuorum   = "quorum"   // quorum mode: this member lost its quorum, or regained it
)

// AlertEvents lists the alert events, in the order the docs give them.
var AlertEvents = []string{AlertDown, AlertUp, AlertFailed, AlertWithheld, AlertDrift, AlertHealth, AlertMismatch, AlertReload, AlertQuorum, AlertTest}

// alertEvent is what the announcement of a job of purpose p is about.
func alertEvent(p Purpose) string {
	switch p {
	case Failback:
		return AlertUp
	case HealthMove:
		return AlertHealth
	case Correction:
		return AlertDrift
	}
	return AlertDown // Takeover, Handover
}

// Hook events: the operator's hooks.* and CLOOSTER_EVENT.
const (
	HookActive   = "on_active"
	HookStandby  = "on_standby"
	HookPeerDown = "on_peer_down"
	HookPeerUp   = "on_peer_up"
)

// Guard reasons: why a node withholds a takeover, as /status shows it.
const (
	GuardUnhealthy   = "this node's service is unhealthy"
	GuardPeerServing = "link down, peer still serving"
	GuardPeerTookIt  = "link down, but the peer took the record: it is alive"
	guardNone        = ""
)

// One-shot alerts: each is sent at most once per down episode (both
// unhealthy: once until either recovers).
const (
	alertStillServing      = "still_serving"
	alertUnhealthySurvivor = "unhealthy_survivor"
	alertFlapping          = "flapping"
	alertPeerTook          = "peer_took"
	alertBothUnhealthy     = "both_unhealthy"
)

// Purpose is why a job writes the record.
type Purpose int

// Purposes of a job.
const (
	Takeover   Purpose = iota + 1
	Failback           // the link has held for failback_delay
	HealthMove         // the active peer is unhealthy
	Handover           // the active peer is stopping
	Correction         // an outside edit pointed the record at neither node
)

func (p Purpose) String() string {
	switch p {
	case Failback:
		return "failback"
	case HealthMove:
		return "health"
	case Handover:
		return "handover"
	case Correction:
		return "correction"
	}
	return "takeover"
}
