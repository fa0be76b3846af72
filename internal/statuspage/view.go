package statuspage

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// view is what the template renders.
type view struct {
	Login  bool // the token's form instead of the page
	Failed bool // the form's last token was wrong
	Part   bool // only the main part, for the script's refresh

	Now    time.Time
	St     watchdog.Status
	Events []event
	// Holds: the records that point to this node, and to the peer.
	Here, There int
}

// event is a transition as the timeline shows it.
type event struct {
	watchdog.Event
	Detail string // the attributes, "key=value" joined
}

func (h *handler) view(part bool) view {
	v := view{Part: part, Now: h.o.Now(), St: h.src.Status()}
	for _, r := range v.St.Records {
		switch r.PointsTo {
		case "":
		case v.St.Node:
			v.Here++
		default:
			v.There++
		}
	}
	for _, e := range h.scrubbed(h.src.Events()) {
		var d []string
		for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
			d = append(d, k+"="+e.Attrs[k])
		}
		v.Events = append(v.Events, event{Event: e, Detail: strings.Join(d, " ")})
	}
	return v
}
