package configcheck

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestConvert(t *testing.T) {
	f := func(yaml string, wantErr string) {
		t.Helper()
		conf, err := confmaptest.LoadConf("testdata/" + yaml)
		require.NoError(t, err)
		before := conf.ToStringMap()
		converter := NewFactory().Create(confmap.ConverterSettings{})
		err = converter.Convert(context.Background(), conf)
		if wantErr == "" {
			require.NoError(t, err, yaml)
		} else {
			require.EqualError(t, err, wantErr, yaml)
		}
		require.Equal(t, before, conf.ToStringMap(), "the check must not change the configuration")
	}

	f("valid.yaml", "")
	f("no_components.yaml", "")
	f("unset_amp_endpoint.yaml",
		`exporters::prometheus_remote_write: endpoint: "api/v1/remote_write" is not an absolute http(s) URL (is the environment variable it is built from, such as AMP_ENDPOINT, set?)`)
	f("missing_slash.yaml",
		`exporters::prometheusremotewrite/amp: endpoint: "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3dapi/v1/remote_write" lacks the '/' before api/v1/remote_write (AMP_ENDPOINT must end with '/')`)
	f("missing_endpoint.yaml",
		"exporters::prometheus_remote_write: endpoint: must be set to the remote-write URL, e.g. https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-.../api/v1/remote_write")
	f("missing_region.yaml",
		"extensions::sigv4auth: region: must be set, e.g. us-west-2 (the workshop configuration takes it from AWS_REGION)")
	f("bad_region.yaml",
		"extensions::sigv4auth/amp: region: \"us west 2\" is not an AWS region name such as us-west-2\n"+
			"extensions::sigv4auth/empty: region: must be set, e.g. us-west-2 (the workshop configuration takes it from AWS_REGION)")
}
