// Package series names one series of a metric family in the form that
// github.com/VictoriaMetrics/metrics registers it under:
// family{label="value",...}, label values escaped as the Prometheus text
// format wants.
//
// Concurrency: Name is a pure function, safe from any goroutine.
package series

import "strings"

// escape escapes a label value for the text format: backslash, double
// quote and line feed, the only escapes a Prometheus parser accepts.
var escape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Name is family with the labels given as name, value pairs, in that
// order: Name("x_total", "op", "read") is x_total{op="read"}. It panics on
// an odd number of strings, a mistake of the caller's.
func Name(family string, labels ...string) string {
	if len(labels)%2 != 0 {
		panic("series: labels must come in name, value pairs")
	}
	if len(labels) == 0 {
		return family
	}
	var b strings.Builder
	b.WriteString(family)
	for i := 0; i < len(labels); i += 2 {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(labels[i])
		b.WriteString(`="`)
		escape.WriteString(&b, labels[i+1])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
