package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// subjectSpec is one process configuration under test, written on the
// command line as
//
//	label:item+item+...
//
// where an item ending in .yaml is a configuration file (several are
// merged in order by the collector: an overlay after configs/workshop.yaml),
// an item starting with "--" is a command-line argument, and KEY=VALUE sets
// an environment variable (GOGC=200, GOMEMLIMIT=300MiB). A subject whose
// first file is named prometheus*.yaml runs Prometheus in agent mode; any
// other runs bin/otelcol-eks.
type subjectSpec struct {
	Label      string
	Configs    []string
	Args       []string
	Env        []string
	Prometheus bool
}

// defaultSubjects are what `make bench` compares: the shipped workshop
// pipeline (k8smeta, the remote_write_delivery queue), the same with the
// exporter's write-ahead log instead of the queue, with no persistence,
// and without k8smeta, and Prometheus agent.
var defaultSubjects = []string{
	"otelcol-eks:configs/workshop.yaml+bench/configs/otelcol-bench.yaml",
	"otelcol-eks-wal:configs/workshop.yaml+bench/configs/otelcol-bench.yaml+bench/configs/persist-wal.yaml",
	"otelcol-eks-no-persistence:configs/workshop.yaml+bench/configs/otelcol-bench.yaml+bench/configs/persist-none.yaml",
	"otelcol-eks-no-k8smeta:configs/workshop.yaml+bench/configs/otelcol-bench.yaml+bench/configs/no-k8smeta.yaml",
	"prometheus-agent:bench/configs/prometheus-agent.yaml",
}

func parseSubject(s string) (subjectSpec, error) {
	label, rest, ok := strings.Cut(s, ":")
	if !ok || label == "" || rest == "" {
		return subjectSpec{}, fmt.Errorf("cannot parse subject %q: want label:config.yaml[+more.yaml][+KEY=VALUE][+--flag]", s)
	}
	spec := subjectSpec{Label: label}
	for _, item := range strings.Split(rest, "+") {
		switch {
		case strings.HasPrefix(item, "--"):
			spec.Args = append(spec.Args, item)
		case strings.HasSuffix(item, ".yaml") || strings.HasSuffix(item, ".yml"):
			spec.Configs = append(spec.Configs, item)
		case strings.Contains(item, "="):
			spec.Env = append(spec.Env, item)
		default:
			return subjectSpec{}, fmt.Errorf("cannot parse subject %q: item %q is neither a .yaml file, a --flag nor KEY=VALUE", s, item)
		}
	}
	if len(spec.Configs) == 0 {
		return subjectSpec{}, fmt.Errorf("cannot parse subject %q: no configuration file", s)
	}
	spec.Prometheus = strings.HasPrefix(filepath.Base(spec.Configs[0]), "prometheus")
	if spec.Prometheus && len(spec.Configs) > 1 {
		return subjectSpec{}, fmt.Errorf("cannot parse subject %q: Prometheus takes one configuration file", s)
	}
	return spec, nil
}

// String is the spec as written on the command line.
func (s subjectSpec) String() string {
	items := append(append(append([]string(nil), s.Configs...), s.Env...), s.Args...)
	return s.Label + ":" + strings.Join(items, "+")
}
