package statuspage

import (
	"fmt"
	"html/template"
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

var funcs = template.FuncMap{
	// ago is how long before now t was: "4s", "3m 12s", "2h 5m", "3d 4h".
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := max(now.Sub(t), 0).Round(time.Second)
		switch {
		case d < time.Minute:
			return fmt.Sprintf("%ds ago", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%dm %ds ago", int(d.Minutes()), int(d.Seconds())%60)
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh %dm ago", int(d.Hours()), int(d.Minutes())%60)
		}
		return fmt.Sprintf("%dd %dh ago", int(d.Hours())/24, int(d.Hours())%24)
	},
	// clock is t in UTC, to the second, with the date when it is not today.
	"clock": func(now, t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		t, now = t.UTC(), now.UTC()
		if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
			return t.Format("15:04:05")
		}
		return t.Format("2006-01-02 15:04:05")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"lower": strings.ToLower,
}
