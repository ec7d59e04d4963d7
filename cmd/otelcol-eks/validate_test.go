package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
)

// validate runs `otelcol-eks validate --config <path>` in-process.
func validate(t *testing.T, path string) error {
	t.Helper()
	cmd := otelcol.NewCommand(testSettings(components))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"validate", "--config", "file:" + path})
	return cmd.ExecuteContext(context.Background())
}

// TestValidate: configurations a user may write either validate, or fail
// naming the component and the field to fix.
func TestValidate(t *testing.T) {
	setTestAWSEnvironment(t)
	t.Setenv("AMP_ENDPOINT", "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3d/")

	f := func(file string, wantErrParts ...string) {
		t.Helper()
		err := validate(t, filepath.Join(sharedTestdata, "validate", file))
		if len(wantErrParts) == 0 {
			require.NoError(t, err, file)
			return
		}
		require.Error(t, err, file)
		for _, part := range wantErrParts {
			require.ErrorContains(t, err, part, file)
		}
	}

	f("legacy_names.yaml")
	f("unknown_component.yaml", "prometheus_remote_writ", "unknown type")
	f("bad_endpoint.yaml", "exporters::prometheus_remote_write/amp", "endpoint", `"api/v1/remote_write" is not an absolute http(s) URL`)
	f("missing_region.yaml", "extensions::sigv4auth", "region: must be set")
	f("bad_loglevel.yaml", "exporters::logging", `loglevel: unsupported value "verbose"`)
	f("undefined_in_pipeline.yaml", "service::pipelines::metrics", "batch/undeclared")
}

// TestEmptyAMPEndpoint: the workshop's `${env:AMP_ENDPOINT}api/v1/remote_write`
// with AMP_ENDPOINT unset fails validation and says which variable to set.
func TestEmptyAMPEndpoint(t *testing.T) {
	setTestAWSEnvironment(t)
	t.Setenv("AMP_ENDPOINT", "")
	err := validate(t, filepath.Join(sharedTestdata, "validate", "amp_endpoint_from_env.yaml"))
	require.ErrorContains(t, err, "exporters::prometheus_remote_write: endpoint")
	require.ErrorContains(t, err, "AMP_ENDPOINT")
}
