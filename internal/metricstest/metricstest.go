// Package metricstest checks a /metrics page in tests: Parse reads it with
// the Prometheus text parser (prometheus/common/expfmt), which must take it
// without error, and Render writes the families a test keeps in a stable
// text form, each with its type and samples, for Golden to compare with a
// file under testdata.
//
// It is for tests only: the daemon never imports it.
//
// Concurrency: every function may run from any goroutine; Golden writes
// its file only when asked to.
package metricstest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse parses text in the Prometheus text format into its families, by
// name. A parse error fails t at once.
func Parse(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

// Render writes the families whose names keep accepts, in name order:
// a line "# name type" for each, then the samples of its series, series
// in the order of their labels: name{label="value",...} value, a
// histogram's _bucket lines (in the order of their bounds), _sum and
// _count, a summary's quantiles, _sum and _count, as the text format has
// them.
func Render(fams map[string]*dto.MetricFamily, keep func(name string) bool) string {
	var names []string
	for name := range fams {
		if keep(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		f := fams[name]
		fmt.Fprintf(&b, "# %s %s\n", name, strings.ToLower(f.GetType().String()))
		ms := slices.Clone(f.GetMetric())
		slices.SortFunc(ms, func(x, y *dto.Metric) int { return strings.Compare(labelText(x.GetLabel()), labelText(y.GetLabel())) })
		for _, m := range ms {
			for _, l := range samples(name, f.GetType(), m) {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

// samples are the text lines of m, a metric of the family name.
func samples(name string, typ dto.MetricType, m *dto.Metric) []string {
	labels := m.GetLabel()
	line := func(suffix string, v float64, extra ...string) string {
		return name + suffix + labelText(labels, extra...) + " " + strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch typ {
	case dto.MetricType_COUNTER:
		return []string{line("", m.GetCounter().GetValue())}
	case dto.MetricType_GAUGE:
		return []string{line("", m.GetGauge().GetValue())}
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		var out []string
		for _, bk := range h.GetBucket() {
			out = append(out, line("_bucket", float64(bk.GetCumulativeCount()), "le", strconv.FormatFloat(bk.GetUpperBound(), 'g', -1, 64)))
		}
		return append(out, line("_sum", h.GetSampleSum()), line("_count", float64(h.GetSampleCount())))
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		var out []string
		for _, q := range s.GetQuantile() {
			out = append(out, line("", q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)))
		}
		return append(out, line("_sum", s.GetSampleSum()), line("_count", float64(s.GetSampleCount())))
	default:
		return []string{line("", m.GetUntyped().GetValue())}
	}
}

// labelText is {name="value",...} of labels, in name order, then of the
// extra name, value pairs (le, quantile); "" without any.
func labelText(labels []*dto.LabelPair, extra ...string) string {
	var pairs []string
	for _, l := range labels {
		pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	slices.Sort(pairs)
	for i := 0; i+1 < len(extra); i += 2 {
		pairs = append(pairs, extra[i]+"="+strconv.Quote(extra[i+1]))
	}
	if len(pairs) == 0 {
		return ""
	}
	return "{" + strings.Join(pairs, ",") + "}"
}

// Golden compares got with the file at path, and fails t with both if
// they differ. With update, it writes got to the file instead.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("the exposition differs from %s (run the test with -update to accept it):\n%s", path, diff(string(want), got))
	}
}

// diff lists the lines only want has (-) and only got has (+).
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
