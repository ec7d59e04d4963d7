// Package configcheck is a confmap converter that makes `otelcol-eks
// validate` catch the mistakes that upstream components accept at
// validation and only reveal once data flows, or never.
//
// It changes nothing in the configuration. It reads the resolved
// configuration (environment variables already expanded) and fails with an
// error naming the component and the field when:
//
//   - a prometheus_remote_write (or prometheusremotewrite) exporter's
//     endpoint is not an absolute http(s) URL — the usual cause is an unset
//     AMP_ENDPOINT, which upstream reports only at start as "invalid
//     endpoint";
//   - an AMP endpoint lost the '/' between the workspace ID and
//     "api/v1/remote_write" (AMP_ENDPOINT without its trailing slash), which
//     AMP answers with 404s at run time;
//   - a sigv4auth extension has no region: upstream then infers one from
//     AMP's host name or signs for no region at all, and AMP answers 403.
package configcheck // import "github.com/otelcol-eks/otelcol-eks/components/configcheck"

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// NewFactory returns the converter's factory, registered by the distribution
// through builder-config.yaml.
func NewFactory() confmap.ConverterFactory {
	return confmap.NewConverterFactory(func(confmap.ConverterSettings) confmap.Converter {
		return checker{}
	})
}

type checker struct{}

// Convert returns every problem found, joined; the configuration is left as
// it is.
func (checker) Convert(_ context.Context, conf *confmap.Conf) error {
	var errs []error
	forEachComponent(conf, "exporters", func(id, typ string, cfg map[string]any) {
		if typ == "prometheus_remote_write" || typ == "prometheusremotewrite" {
			errs = append(errs, prefix("exporters", id, checkRemoteWriteEndpoint(cfg)))
		}
	})
	forEachComponent(conf, "extensions", func(id, typ string, cfg map[string]any) {
		if typ == "sigv4auth" {
			errs = append(errs, prefix("extensions", id, checkSigV4Region(cfg)))
		}
	})
	return errors.Join(errs...)
}

// forEachComponent calls fn for each component declared under section, in
// ID order so that errors come out in a stable order.
func forEachComponent(conf *confmap.Conf, section string, fn func(id, typ string, cfg map[string]any)) {
	components, _ := conf.ToStringMap()[section].(map[string]any)
	ids := make([]string, 0, len(components))
	for id := range components {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		cfg, _ := components[id].(map[string]any) // nil for an empty entry: fields are then unset
		typ, _, _ := strings.Cut(id, "/")
		fn(id, typ, cfg)
	}
}

func prefix(section, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s::%s: %w", section, id, err)
}

// amp matches an Amazon Managed Service for Prometheus workspace host.
var ampHost = regexp.MustCompile(`^aps-workspaces\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// ampPathWithoutSlash matches ".../workspaces/ws-<id>api/v1/remote_write":
// AMP_ENDPOINT without its trailing slash, joined to "api/v1/remote_write".
var ampPathWithoutSlash = regexp.MustCompile(`/workspaces/ws-[0-9a-zA-Z-]*?api/v1/remote_write$`)

func checkRemoteWriteEndpoint(cfg map[string]any) error {
	endpoint, _ := cfg["endpoint"].(string)
	field := "endpoint"
	if httpCfg, ok := cfg["http"].(map[string]any); ok && endpoint == "" {
		endpoint, _ = httpCfg["endpoint"].(string)
		field = "http::endpoint"
	}
	if strings.TrimSpace(endpoint) == "" {
		return fmt.Errorf("%s: must be set to the remote-write URL, e.g. https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-.../api/v1/remote_write", field)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an absolute http(s) URL (is the environment variable it is built from, such as AMP_ENDPOINT, set?)", field, endpoint)
	}
	if ampHost.MatchString(u.Hostname()) && ampPathWithoutSlash.MatchString(u.Path) {
		return fmt.Errorf("%s: %q lacks the '/' before api/v1/remote_write (AMP_ENDPOINT must end with '/')", field, endpoint)
	}
	return nil
}

// awsRegion is the shape of a region name such as us-west-2 or cn-north-1.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func checkSigV4Region(cfg map[string]any) error {
	region, _ := cfg["region"].(string)
	if region == "" {
		return errors.New("region: must be set, e.g. us-west-2 (the workshop configuration takes it from AWS_REGION)")
	}
	if !awsRegion.MatchString(region) {
		return fmt.Errorf("region: %q is not an AWS region name such as us-west-2", region)
	}
	return nil
}
