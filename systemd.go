package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/clooster/clooster/watchdog"
)

// systemdNotify speaks systemd's notify protocol when the daemon runs as a
// Type=notify unit (NOTIFY_SOCKET set; otherwise it does nothing): READY=1
// once the node listens or dials, a STATUS= line whenever the peer or the
// record changes, WATCHDOG=1 every half WatchdogSec while the node's loop
// keeps turning, and STOPPING=1 at the end. It returns when ctx ends.
func systemdNotify(ctx context.Context, node *watchdog.Node, log *slog.Logger) {
	notify := func(state string) {
		if _, err := daemon.SdNotify(false, state); err != nil {
			log.Debug("systemd notify failed", "error", err)
		}
	}
	select {
	case <-node.Ready():
	case <-ctx.Done():
		return
	}
	notify(daemon.SdNotifyReady)
	var dog <-chan time.Time
	interval, err := daemon.SdWatchdogEnabled(false)
	if err == nil && interval > 0 {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		dog = t.C
	}
	status := time.NewTicker(time.Second)
	defer status.Stop()
	last := ""
	for {
		if line := statusLine(node.Status()); line != last {
			notify("STATUS=" + line)
			last = line
		}
		select {
		case <-ctx.Done():
			notify(daemon.SdNotifyStopping)
			return
		case now := <-dog:
			// A hung loop stops the pings, and systemd restarts the unit.
			if now.Sub(node.LastTurn()) < interval/2 {
				notify(daemon.SdNotifyWatchdog)
			} else {
				log.Error("the node's loop has not turned for a while; not telling systemd it is alive", "last_turn", node.LastTurn())
			}
		case <-status.C:
		}
	}
}

// sdNotify sends state to systemd, if the daemon runs as a Type=notify
// unit; otherwise it does nothing.
func sdNotify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Debug("systemd notify failed", "error", err)
	}
}

// statusLine is the one-line state systemctl status shows.
func statusLine(st watchdog.Status) string {
	rec := st.Record.Content
	if rec == "" {
		rec = "?"
	}
	role := "standby"
	if st.Record.Active {
		role = "ACTIVE"
	}
	line := fmt.Sprintf("%s: peer %s %s; %s -> %s", role, st.Peer.Name, st.Peer.State, st.Record.Name, rec)
	if st.Guard.Withholding {
		line += "; withholding: " + st.Guard.Reason
	}
	if !st.Health.Healthy {
		line += "; UNHEALTHY"
	}
	return line
}
