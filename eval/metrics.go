package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Metrics maps metric names to values. JSON has no NaN or infinity, so
// MarshalJSON writes such a value as null (encoding/json would fail and
// lose the whole report); Run adds a note to the task naming each one.
type Metrics map[string]float64

// MarshalJSON writes the metrics as a JSON object with sorted keys, NaN
// and ±Inf as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		v := m[k]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteString("null")
			continue
		}
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// FormatMetric formats a metric value for text output: %.4f, or nan, inf
// and -inf.
func FormatMetric(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return fmt.Sprintf("%.4f", v)
}

// nonFinite returns "name (NaN)" / "name (+Inf)" for each NaN or infinite
// metric of m, sorted, with prefix before each name.
func nonFinite(m Metrics, prefix string) []string {
	var out []string
	for k, v := range m {
		switch {
		case math.IsNaN(v):
			out = append(out, prefix+k+" (NaN)")
		case math.IsInf(v, 1):
			out = append(out, prefix+k+" (+Inf)")
		case math.IsInf(v, -1):
			out = append(out, prefix+k+" (-Inf)")
		}
	}
	sort.Strings(out)
	return out
}

// noteNonFinite adds a note naming every NaN or infinite metric of the
// result (and of its groups), which the JSON report holds as null. The
// task code adds the reason where it knows it (non-finite log-likelihoods,
// an exp overflow).
func (r *TaskResult) noteNonFinite() {
	bad := nonFinite(r.Metrics, "")
	groups := make([]string, 0, len(r.Groups))
	for g := range r.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		bad = append(bad, nonFinite(r.Groups[g].Metrics, "groups."+g+".")...)
	}
	if len(bad) > 0 {
		r.Notes = append(r.Notes, "not finite, written as null in JSON: "+strings.Join(bad, ", "))
	}
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
