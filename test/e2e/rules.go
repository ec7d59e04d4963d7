package e2e

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// RulesPath is the collector's alerting rules, relative to the repository
// root.
const RulesPath = "deploy/rules/collector-alerts.yaml"

// AlertRule is one alerting rule of a rule file.
type AlertRule struct {
	Group, Alert, Expr  string
	For                 time.Duration
	Labels, Annotations map[string]string
}

// ReadAlertRules parses the Prometheus rule file at path as Prometheus
// loads it (unknown fields, bad PromQL or templates are errors) and
// returns its alerting rules in file order; a recording rule is an error.
func ReadAlertRules(path string) ([]AlertRule, error) {
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	if len(errs) > 0 {
		return nil, fmt.Errorf("cannot load rule file %s: %w", path, errors.Join(errs...))
	}
	var out []AlertRule
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				return nil, fmt.Errorf("%s: group %s: recording rule %s: only alerting rules are expected", path, g.Name, r.Record)
			}
			out = append(out, AlertRule{
				Group: g.Name, Alert: r.Alert, Expr: r.Expr, For: time.Duration(r.For),
				Labels: r.Labels, Annotations: r.Annotations,
			})
		}
	}
	return out, nil
}
