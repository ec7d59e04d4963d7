package remotewrite

import (
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/prompb"
)

// Series is one time series as a sender wrote it: its label set and every
// float sample, native histogram and exemplar received for it, each in
// arrival order (retries and duplicates included).
type Series struct {
	Labels     []prompb.Label // sorted by name
	Samples    []prompb.Sample
	Histograms []prompb.Histogram
	Exemplars  []prompb.Exemplar
}

// Name returns the value of the __name__ label, or "".
func (s Series) Name() string { return labelValue(s.Labels, "__name__") }

// Label returns the value of label name, or "" when absent.
func (s Series) Label(name string) string { return labelValue(s.Labels, name) }

// String returns the label set as `name{k="v",...}`, labels sorted by name,
// values quoted Go-style. It is the key series are sorted and merged by.
func (s Series) String() string { return labelsString(s.Labels) }

func labelValue(ls []prompb.Label, name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// sortedLabels returns a sorted copy of ls.
func sortedLabels(ls []prompb.Label) []prompb.Label {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// labelsString renders sorted labels as `name{k="v",...}`; a label set
// without __name__ renders as `{k="v",...}`.
func labelsString(ls []prompb.Label) string {
	var b strings.Builder
	b.WriteString(labelValue(ls, "__name__"))
	b.WriteByte('{')
	first := true
	for _, l := range ls {
		if l.Name == "__name__" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// labelProblem reports why ls breaks the remote-write 1.0 rules on labels
// (sorted by name, names unique and non-empty, values non-empty, a
// __name__ present), or "" when it does not.
func labelProblem(ls []prompb.Label) string {
	if labelValue(ls, "__name__") == "" {
		return "no __name__ label"
	}
	for i, l := range ls {
		switch {
		case l.Name == "":
			return "empty label name"
		case l.Value == "":
			return "empty value for label " + strconv.Quote(l.Name)
		case i > 0 && ls[i-1].Name == l.Name:
			return "repeated label " + strconv.Quote(l.Name)
		case i > 0 && ls[i-1].Name > l.Name:
			return "labels not sorted at " + strconv.Quote(l.Name)
		}
	}
	return ""
}
