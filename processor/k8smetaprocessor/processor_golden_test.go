package k8smetaprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/kubemeta/kubemetatest"
	"github.com/otelcol-eks/otelcol-eks/processor/k8smetaprocessor/internal/metadata"
)

// updateGolden rewrites expected.yaml files instead of comparing, when the
// project-wide UPDATE_GOLDEN=1 is set. Review the diff like code.
var updateGolden = os.Getenv("UPDATE_GOLDEN") == "1"

// TestGolden runs every testdata/golden/<case>: config.yaml (merged over
// the default config) and input.yaml through a processor whose API is a
// fake serving testdata/golden/objects.yaml; the output must equal
// expected.yaml.
func TestGolden(t *testing.T) {
	objs := loadObjects(t, filepath.Join("testdata", "golden", "objects.yaml"))
	cases, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "input.yaml"))
	require.NoError(t, err)
	require.Len(t, cases, 9)
	for _, in := range cases {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			actual := runGoldenCase(t, dir, objs, tel)
			expectedPath := filepath.Join(dir, "expected.yaml")
			if updateGolden {
				require.NoError(t, golden.WriteMetricsToFile(expectedPath, actual))
			}
			expected, err := golden.ReadMetrics(expectedPath)
			require.NoError(t, err)
			// golden.WriteMetricsToFile sorts resources and points; the processor
			// keeps the input order.
			require.NoError(t, pmetrictest.CompareMetrics(expected, actual,
				pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))

			switch filepath.Base(dir) {
			case "unknown_pod":
				// Both identity sources were tried and missed.
				assertAssociations(t, tel, map[[2]string]int64{
					{SourceDatapointLabels, "miss"}: 1,
					{SourcePodUID, "miss"}:          1,
					{SourcePodName, "miss"}:         1,
				})
			case "cadvisor_three_pods":
				assertAssociations(t, tel, map[[2]string]int64{
					{SourceDatapointLabels, "hit"}: 3,
					// server.address is the kubelet's (host network) IP.
					{SourcePodIP, "miss"}: 1,
				})
			}
		})
	}
}

func runGoldenCase(t *testing.T, dir string, objs kubemetatest.Objects, tel *componenttest.Telemetry) pmetric.Metrics {
	factory := NewFactoryWithClients(fakeClients(objs))
	cfg := factory.CreateDefaultConfig().(*Config)
	cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	require.NoError(t, cm.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	cfg.WaitForSync = time.Minute // the fake lists at once; a deadline, not a sleep

	sink := new(consumertest.MetricsSink)
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	proc, err := factory.CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, proc.Shutdown(context.Background())) })
	requireSynced(t, tel)

	input, err := golden.ReadMetrics(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	require.NoError(t, proc.ConsumeMetrics(context.Background(), input))
	require.Len(t, sink.AllMetrics(), 1)
	return sink.AllMetrics()[0]
}

// requireSynced checks through the self-metric that Start returned with
// every cache listed, not after wait_for_sync ran out.
func requireSynced(t *testing.T, tel *componenttest.Telemetry) {
	t.Helper()
	got, err := tel.GetMetric("otelcol_k8smeta_cache_synced")
	require.NoError(t, err)
	gauge, ok := got.Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	require.Len(t, gauge.DataPoints, 1)
	require.Equal(t, int64(1), gauge.DataPoints[0].Value)
}

func assertAssociations(t *testing.T, tel *componenttest.Telemetry, want map[[2]string]int64) {
	t.Helper()
	got, err := tel.GetMetric("otelcol_k8smeta_associations")
	require.NoError(t, err)
	var dps []metricdata.DataPoint[int64]
	for k, v := range want {
		dps = append(dps, metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("source", k[0]), attribute.String("result", k[1])),
			Value:      v,
		})
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "otelcol_k8smeta_associations",
		Description: "Association attempts by source and result (hit, miss). [Alpha]",
		Unit:        "{attempt}",
		Data:        metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: dps},
	}, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}
