package otelop

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	otelconf "go.opentelemetry.io/contrib/otelconf/v0.3.0"
)

// Event is an event the operator records on the resource.
type Event struct {
	Reason, Message string
}

// The metrics endpoint the operator assumes when service.telemetry names
// none it can read (internal/otelconfig/config.go: defaultServiceHost,
// defaultServicePort).
const (
	DefaultMetricsHost = "0.0.0.0"
	DefaultMetricsPort = 8888
)

// DefaultConfig returns spec.config as the operator's admission webhook
// stores it (internal/webhook/collector_webhook.go, Default, which calls
// internal/otelconfig/config.go ApplyDefaults without a TLS profile): first
// service.telemetry (ServiceApplyDefaults), then the defaults of each
// receiver, exporter and extension the pipelines and service.extensions
// use. config is not changed.
//
// It fails on a component whose treatment by the operator this package
// does not know, rather than guess.
func DefaultConfig(config map[string]any) (map[string]any, []Event, error) {
	out, err := deepCopy(config)
	if err != nil {
		return nil, nil, err
	}
	service, ok := out["service"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("spec.config has no service section")
	}
	var events []Event
	if ev := defaultTelemetry(service); ev != nil {
		events = append(events, *ev)
	}
	for kind, names := range enabledComponents(service) {
		section, _ := out[kind].(map[string]any)
		for _, name := range names {
			defaulter, known := componentDefaults[kind][componentType(name)]
			if !known {
				return nil, nil, fmt.Errorf("otelop does not know what the operator's defaulting does to %s %q: read internal/components/%s in the operator's source and add it", kind, name, kind)
			}
			if defaulter == nil || section == nil {
				continue
			}
			cfg, _ := section[name].(map[string]any)
			section[name] = defaulter(cfg)
		}
	}
	return out, events, nil
}

// Telemetry is the operator's reading of service.telemetry
// (internal/otelconfig/config.go: Telemetry, MetricsConfig, GetTelemetry):
// a JSON decoding into these types. What does not decode (the list form
// of resource.attributes, a port written as a string such as an
// ${env:...} reference) makes the whole block unreadable to it.
type Telemetry struct {
	Metrics  metricsConfig      `json:"metrics,omitzero"`
	Resource map[string]*string `json:"resource,omitempty"`
}

type metricsConfig struct {
	Level   string `json:"level,omitempty"`
	Address string `json:"address,omitempty"`
	otelconf.MeterProvider
}

// ReadTelemetry decodes service.telemetry as the operator does; ok is false
// when it cannot (or there is none), and the operator then replaces it.
func ReadTelemetry(service map[string]any) (t *Telemetry, ok bool) {
	raw, present := service["telemetry"]
	if !present || raw == nil {
		return nil, false
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, false
	}
	t = &Telemetry{}
	if err := json.Unmarshal(data, t); err != nil {
		return nil, false
	}
	return t, true
}

// MetricsReaderEndpoint is the host and port of the first Prometheus pull
// reader of a telemetry block the operator could read (MetricsEndpoint
// in internal/otelconfig/config.go, which also names the container's
// "metrics" port and the monitoring Service).
func (t *Telemetry) MetricsReaderEndpoint() (host string, port int32) {
	host, port = DefaultMetricsHost, DefaultMetricsPort
	for _, r := range t.Metrics.Readers {
		if r.Pull == nil || r.Pull.Exporter.Prometheus == nil {
			continue
		}
		prom := r.Pull.Exporter.Prometheus
		if prom.Host != nil && *prom.Host != "" {
			host = *prom.Host
		}
		if prom.Port != nil && *prom.Port != 0 {
			port = int32(*prom.Port)
		}
		return host, port
	}
	return host, port
}

// defaultTelemetry is ServiceApplyDefaults: a block the operator cannot
// read is replaced by an empty one; a block without metrics address or
// readers gets a Prometheus pull reader on 0.0.0.0:8888, merged in
// without replacing what is there, and an event.
func defaultTelemetry(service map[string]any) *Event {
	tel, ok := ReadTelemetry(service)
	if !ok {
		tel = &Telemetry{}
		service["telemetry"] = map[string]any{}
	}
	if tel.Metrics.Address != "" || len(tel.Metrics.Readers) != 0 {
		return nil
	}
	host, port := DefaultMetricsHost, DefaultMetricsPort
	portInt := port
	tel.Metrics.Readers = append(tel.Metrics.Readers, otelconf.MetricReader{
		Pull: &otelconf.PullMetricReader{Exporter: otelconf.PullMetricExporter{
			Prometheus: &otelconf.Prometheus{Host: &host, Port: &portInt},
		}},
	})
	// TelemetryToAnyConfig: JSON, then normalizeConfig (nulls removed).
	data, _ := json.Marshal(tel)
	var defaults map[string]any
	_ = json.Unmarshal(data, &defaults)
	removeNulls(defaults)
	mergeMissing(service["telemetry"].(map[string]any), defaults)
	return &Event{
		Reason:  "Spec.Service.Telemetry.DefaultsApplied",
		Message: fmt.Sprintf("Applied default Prometheus telemetry configuration (host: %s, port: %d)", host, port),
	}
}

// componentDefaults is, by section and component type, what the operator's
// parsers (internal/components/{receivers,exporters,extensions}) default
// in the components deploy/ and the workshop's resource use: nil for
// "nothing" (a parser without a defaults applier, or the generic parser of
// a type the operator does not know).
var componentDefaults = map[string]map[string]func(map[string]any) map[string]any{
	"receivers": {
		"prometheus": nil, // receivers/prometheus.go: ports only (api_server)
	},
	"exporters": {
		"prometheus_remote_write": nil, // unknown to the operator
		"prometheusremotewrite":   nil,
		"logging":                 nil,
		"debug":                   nil,
	},
	"extensions": {
		"health_check":          healthCheckDefaults,
		"pprof":                 nil, // unknown to the operator
		"sigv4auth":             nil,
		"remote_write_delivery": nil,
	},
}

// healthCheckDefaults is extensions/healthcheckv1.go
// (healthCheckV1AddressDefaulter) merged under the user's settings as
// internal/otelconfig/config.go applyDefaultForComponentKinds does: an
// endpoint without host gets 0.0.0.0, a missing endpoint 0.0.0.0:13133,
// and path "/" is added.
func healthCheckDefaults(cfg map[string]any) map[string]any {
	endpoint, _ := cfg["endpoint"].(string)
	if endpoint == "" {
		endpoint = "0.0.0.0:13133"
	} else if h, p, err := net.SplitHostPort(endpoint); err == nil && h == "" && p != "" {
		endpoint = "0.0.0.0:" + p
	}
	path, _ := cfg["path"].(string)
	if path == "" {
		path = "/"
	}
	out := map[string]any{"endpoint": endpoint, "path": path}
	mergeMissing(out, cfg)
	return out
}

// enabledComponents is GetEnabledComponents (internal/otelconfig/config.go):
// the receivers and exporters of every pipeline, and service.extensions,
// each once, by section.
func enabledComponents(service map[string]any) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	add := func(kind string, names any) {
		list, _ := names.([]any)
		for _, n := range list {
			name, _ := n.(string)
			if name != "" && !seen[kind+"/"+name] {
				seen[kind+"/"+name] = true
				out[kind] = append(out[kind], name)
			}
		}
	}
	add("extensions", service["extensions"])
	pipelines, _ := service["pipelines"].(map[string]any)
	for _, p := range pipelines {
		pipeline, _ := p.(map[string]any)
		add("receivers", pipeline["receivers"])
		add("exporters", pipeline["exporters"])
	}
	return out
}

// componentType is components.ComponentType: the part of a component ID
// before "/".
func componentType(name string) string {
	t, _, _ := strings.Cut(name, "/")
	return t
}

// mergeMissing adds to dst what src has and dst lacks, recursing into maps
// both have: mergo.Merge without override, as the operator calls it (an
// empty value in dst counts as missing).
func mergeMissing(dst, src map[string]any) {
	for k, v := range src {
		cur, present := dst[k]
		switch {
		case !present || isEmpty(cur):
			dst[k] = v
		default:
			curMap, ok1 := cur.(map[string]any)
			srcMap, ok2 := v.(map[string]any)
			if ok1 && ok2 {
				mergeMissing(curMap, srcMap)
			}
		}
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case int:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func removeNulls(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			removeNulls(x)
		case []any:
			for _, item := range x {
				if sub, ok := item.(map[string]any); ok {
					removeNulls(sub)
				}
			}
		}
	}
}

// deepCopy copies a YAML/JSON tree through JSON, as the operator's
// AnyConfig.DeepCopyInto does (numbers become float64 there too).
func deepCopy(m map[string]any) (map[string]any, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the configuration as JSON: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("cannot decode the configuration from JSON: %w", err)
	}
	return out, nil
}
