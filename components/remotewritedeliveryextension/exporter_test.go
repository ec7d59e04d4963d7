package remotewritedeliveryextension

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	prwexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/sigv4authextension"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap/zaptest"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
)

var testCredentials = aws.Credentials{
	AccessKeyID:     "AKIDDELIVERYTEST0001",
	SecretAccessKey: "delivery-secret-key-Zq8vN3xR7wLp2sTb9yKm",
	SessionToken:    "delivery-session-token-Hj4Kd8Wq1Zx5Cv7Bn0Mf",
}

// setTestCredentials gives the AWS SDK's default chain static test
// credentials and keeps it away from instance metadata and profiles.
func setTestCredentials(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", testCredentials.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testCredentials.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", testCredentials.SessionToken)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "no-credentials"))
}

func gauge(name string, ts time.Time, v float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "synth")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetDoubleValue(v)
	return md
}

// TestUpstreamExporterAndSigV4 runs the contrib remote-write exporter with
// `auth: {authenticator: remote_write_delivery}` and the contrib sigv4auth
// extension as the delivery's authenticator, as the shipped configurations
// do, against a backend that verifies every SigV4 signature as AMP does:
// what the exporter sends arrives, signed, decodable, in order.
func TestUpstreamExporterAndSigV4(t *testing.T) {
	setTestCredentials(t)
	recorder := remotewrite.NewRecorder(&sigv4check.Verifier{Credentials: testCredentials, Region: "us-west-2", Service: "aps"})
	srv := httptest.NewServer(recorder)
	defer srv.Close()

	sigv4Factory := sigv4authextension.NewFactory()
	sigv4Cfg := sigv4Factory.CreateDefaultConfig().(*sigv4authextension.Config)
	sigv4Cfg.Region, sigv4Cfg.Service = "us-west-2", "aps"
	require.NoError(t, sigv4Cfg.Validate()) // resolves the credentials, as the collector's validation does
	sigv4ID := component.NewID(sigv4Factory.Type())
	sigv4, err := sigv4Factory.Create(context.Background(), extensiontest.NewNopSettings(sigv4Factory.Type()), sigv4Cfg)
	require.NoError(t, err)

	cfg := createDefaultConfig()
	cfg.Directory = t.TempDir()
	cfg.Authenticator = sigv4ID
	// One in flight: the ten batches below, a second apart in their samples,
	// are captured at once, and this recorder, like Prometheus by default,
	// refuses a sample older than the newest of its series.
	cfg.MaxInFlight = 1
	dbgSet := componenttest.NewNopTelemetrySettings()
	dbgSet.Logger = zaptest.NewLogger(t)
	delivery, err := newExtension(deliveryID, cfg, dbgSet, time.Now)
	require.NoError(t, err)
	host := hostWith{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{sigv4ID: sigv4, deliveryID: delivery}}
	require.NoError(t, sigv4.Start(context.Background(), host))
	require.NoError(t, delivery.Start(context.Background(), host))

	factory := prwexporter.NewFactory()
	expCfg := factory.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint":                      srv.URL + "/workspaces/ws-1/api/v1/remote_write",
		"auth":                          map[string]any{"authenticator": deliveryID.String()},
		"max_batch_request_parallelism": 1,
	}).Unmarshal(expCfg))
	exp, err := factory.CreateMetrics(context.Background(), exportertest.NewNopSettings(factory.Type()), expCfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), host))

	start := time.Now().Truncate(time.Second)
	for i := range 10 {
		require.NoError(t, exp.ConsumeMetrics(context.Background(), gauge("delivery_test_value", start.Add(time.Duration(i)*time.Second), float64(i))))
	}
	require.NoError(t, exp.Shutdown(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, recorder.WaitFor(ctx, func(s remotewrite.Snapshot) bool { return s.Stats.Samples >= 10 }))
	require.NoError(t, delivery.Shutdown(context.Background()))
	require.NoError(t, sigv4.Shutdown(context.Background()))

	stats := recorder.Stats()
	require.Zero(t, stats.Rejected, "rejected: %v", stats.RejectReasons)
	require.Zero(t, stats.OutOfOrder)
	require.Zero(t, stats.Duplicates)
	require.Equal(t, 10, stats.Samples)
	series := recorder.Series()
	require.Len(t, series, 1)
	for i, s := range series[0].Samples {
		require.EqualValues(t, i, s.Value)
	}
}
