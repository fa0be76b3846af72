package sim

import (
	"strings"
	"time"

	"github.com/clooster/clooster/internal/recordset"
)

// inject schedules f's start and end.
func (w *World) inject(f Fault) {
	w.at(epoch.Add(f.At), func() {
		w.logf("FAULT %s", f)
		w.begin(f)
	})
}

// begin starts fault f; the faults that last end themselves.
func (w *World) begin(f Fault) {
	nw, d, t := w.net, w.dns, w.truth
	n := w.nodes[f.Node]
	later := func(fn func()) {
		if f.For > 0 {
			w.after(f.For, func() {
				if !w.tail {
					w.logf("FAULT %s ends", f.Kind)
					fn()
				}
			})
		}
	}
	switch f.Kind {
	case FaultCut:
		nw.cut[0]++
		nw.cut[1]++
		later(func() { nw.cut[0]--; nw.cut[1]--; nw.heal(0); nw.heal(1) })
	case FaultCutOneWay:
		nw.cut[f.Node]++
		later(func() { nw.cut[f.Node]--; nw.heal(f.Node) })
	case FaultLoss:
		nw.loss = append(nw.loss, f.P)
		later(func() { nw.loss = nw.loss[1:] })
	case FaultSlowNet:
		nw.slow = append(nw.slow, f.Extra)
		later(nw.endSlow)
	case FaultReset:
		nw.resetAll()
	case FaultFlap:
		end := w.now.Add(f.For)
		var flip func(cut bool)
		flip = func(cut bool) {
			if w.tail {
				return
			}
			if cut {
				nw.cut[0]++
				nw.cut[1]++
			} else {
				nw.cut[0]--
				nw.cut[1]--
				nw.heal(0)
				nw.heal(1)
			}
			if !cut && !w.now.Before(end) {
				return
			}
			w.after(w.uniform(f.Period/2, f.Period*3/2), func() { flip(!cut) })
		}
		flip(true)
	case FaultCrash:
		if n.proc == procOff {
			return
		}
		w.logf("%s: killed", nodeName(n.i))
		t.crashed(n.i, false)
		n.kill(false)
		w.restartAfter(n, f.For)
	case FaultPowerOff:
		if !n.machineUp {
			return
		}
		t.crashed(n.i, true)
		n.kill(true)
		n.machineUp, n.serviceUp = false, false
		n.offs, n.offAt = n.offs+1, w.now
		for _, c := range nw.conns {
			c.end[n.i].held = nil
		}
		if f.For > 0 {
			w.after(f.For, func() {
				if w.tail || n.machineUp {
					return
				}
				n.machineUp = true
				n.serviceUp = w.serviceDown[n.i] == 0
				w.after(w.uniform(time.Second, 5*time.Second), n.start) // boot, then systemd starts clooster
			})
		}
	case FaultFreeze:
		n.freeze()
		later(n.thaw)
	case FaultReload:
		if n.proc == procOff {
			return
		}
		n.inputFrom("signal", n.inc, func() { n.reload(f) })
	case FaultStop, FaultRestart:
		if n.proc == procOff {
			return
		}
		signal := n.stop // SIGTERM
		if f.Kind == FaultRestart {
			signal = n.restart // SIGUSR2
			t.restarting(n.i)
		} else {
			t.stopped(n.i)
		}
		n.inputFrom("signal", n.inc, signal)
		w.restartAfter(n, f.For)
	case FaultService:
		w.serviceDown[n.i]++
		w.setService(n)
		later(func() { w.serviceDown[n.i]--; w.setService(n) })
	case FaultServFlap:
		end := w.now.Add(f.For)
		var flip func(down bool)
		flip = func(down bool) {
			if w.tail {
				return
			}
			if down {
				w.serviceDown[n.i]++
			} else {
				w.serviceDown[n.i]--
			}
			w.setService(n)
			if !down && !w.now.Before(end) {
				return
			}
			w.after(w.uniform(f.Period/2, f.Period*3/2), func() { flip(!down) })
		}
		flip(true)
	case FaultProbePath:
		nw.probeCut[f.Node]++
		later(func() { nw.probeCut[f.Node]-- })
	case FaultAPIDown, FaultAPI429, FaultAPISlow, FaultAPILost, FaultAPIStale:
		if f.Kind == FaultAPISlow || f.Kind == FaultAPILost {
			t.mmOff = true // an answer may be lost
		}
		t.apiFaults++
		t.apiFaultEnd = epoch.Add(1000 * time.Hour)
		switch f.Kind {
		case FaultAPIDown:
			d.down++
		case FaultAPI429:
			d.throttle = append(d.throttle, f.Extra)
		case FaultAPISlow:
			d.slow = append(d.slow, f.Extra)
		case FaultAPILost:
			d.lost++
		case FaultAPIStale:
			d.stale = append(d.stale, f.Extra)
		}
		later(func() {
			switch f.Kind {
			case FaultAPIDown:
				d.down--
			case FaultAPI429:
				d.throttle = d.throttle[1:]
			case FaultAPISlow:
				d.slow = d.slow[1:]
			case FaultAPILost:
				d.lost--
			case FaultAPIStale:
				d.stale = d.stale[1:]
			}
			t.apiFaults--
			if t.apiFaults == 0 {
				t.apiFaultEnd = w.now
			}
		})
	case FaultEditOne:
		parts := strings.Split(d.content, recordset.Sep)
		if !d.exists || d.typ != w.sc.Type || len(parts) != w.sc.Set {
			return
		}
		parts[f.Record] = strings.Split(thirdValue(w.sc), recordset.Sep)[f.Record]
		w.edit(recordset.Join(parts))
	case FaultRefuseOne:
		// An API fault: the rule's bounds hold only once it ends.
		if d.refused == nil {
			d.refused = make([]int, w.sc.Set)
		}
		d.refused[f.Record]++
		t.apiFaults++
		t.mmOff = true // a write lands in part
		t.apiFaultEnd = epoch.Add(1000 * time.Hour)
		w.logf("API: writes of record %d are refused", f.Record)
		later(func() {
			d.refused[f.Record]--
			t.apiFaults--
			if t.apiFaults == 0 {
				t.apiFaultEnd = w.now
			}
			w.logf("API: writes of record %d are taken again", f.Record)
		})
	case FaultForged:
		end := w.now.Add(f.For)
		if end.After(t.forgedUntil[n.i]) {
			t.forgedUntil[n.i] = end
		}
		w.forge(f, n, end)
	case FaultEditThird:
		w.edit(thirdValue(w.sc))
	case FaultEditNode:
		w.edit(w.sc.Values[f.Node])
	case FaultDelete:
		if !d.exists {
			return
		}
		d.exists = false
		t.lastEdit = w.now
		w.logf("API: the record is deleted")
		later(func() { w.recreate(w.sc.Values[w.rng.IntN(2)]) })
	case FaultTypeChange:
		if !d.exists {
			return
		}
		d.typ = "TXT"
		t.lastEdit = w.now
		w.logf("API: the record's type is changed")
		later(func() { d.typ = w.sc.Type; t.lastEdit = w.now; w.logf("API: the record's type is changed back") })
	}
}

func thirdValue(sc *Scenario) string {
	v := "parked.example.net"
	if sc.Type == "A" {
		v = "198.51.100.7"
	}
	if sc.Set > 1 {
		return setValue(v, sc.Set)
	}
	return v
}

// edit is an operator changing the record's content.
func (w *World) edit(content string) {
	d := w.dns
	if !d.exists || d.typ != w.sc.Type {
		return
	}
	d.apply(outsider, 0, content, nil)
	w.truth.edited(content)
}

func (w *World) recreate(content string) {
	d := w.dns
	if d.exists {
		return
	}
	d.exists, d.typ = true, w.sc.Type
	d.apply(outsider, 0, content, nil)
	w.logf("API: the record is created again")
}

func (w *World) setService(n *node) {
	n.serviceUp = n.machineUp && w.serviceDown[n.i] == 0
	if !n.serviceUp {
		w.truth.serviceDown(n.i)
	}
}

// restartAfter has n's supervisor start it again after d (0: only at the
// tail).
func (w *World) restartAfter(n *node, d time.Duration) {
	if d <= 0 {
		return
	}
	w.after(d, func() {
		if !w.tail {
			n.start()
		}
	})
}

// stop is SIGTERM: the machine decides when the process exits.
func (n *node) stop() {
	n.turn(evStop(n))
}

// reload is SIGHUP: the node's configuration, changed as f says, applied
// on its loop. The process's next start reads the file as reloaded.
func (n *node) reload(f Fault) {
	c := *n.cfg
	switch f.Change {
	case "failback":
		c.FailbackDelay = f.Extra
	case "drift":
		c.DriftInterval = f.Extra
	case "handover":
		c.Handover = !c.Handover
	}
	n.cfg = &c
	n.w.truth.reloads++
	n.turn(evReload(n, c))
}

// restart is SIGUSR2: a stop without a handover, and a goodbye that asks
// the peer to wait restart_grace (none: a stop).
func (n *node) restart() {
	n.restarting = n.cfg.RestartGrace > 0
	n.turn(evRestart(n))
}
