package rwanswerpolicyextension

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prwexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension/internal/metadata"
)

// hostWith is a host offering exts, as the service does to the exporter's
// Start (confighttp.ToClient resolves `middlewares` from it).
type hostWith struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h.exts }

// recordingBackend answers every remote-write request with its current
// status and counts bodies it has seen before (re-sends).
type recordingBackend struct {
	status  atomic.Int64
	mu      sync.Mutex
	seen    map[[sha256.Size]byte]bool
	repeats int
	// fresh2xx counts first-seen bodies answered 2xx.
	fresh2xx int
}

func (b *recordingBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	status := int(b.status.Load())
	b.mu.Lock()
	if b.seen[sum] {
		b.repeats++
	} else if status/100 == 2 {
		b.fresh2xx++
	}
	b.seen[sum] = true
	b.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

func (b *recordingBackend) counts() (repeats, fresh2xx, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.repeats, b.fresh2xx, len(b.seen) + b.repeats
}

func gauge(ts time.Time, v float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "synth")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("answers_test_value")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetDoubleValue(v)
	return md
}

// TestExporterWALLetsGoOfDroppedRequests runs upstream's remote-write
// exporter with its write-ahead log and retries on, as the shipped configs
// do, against a backend that rejects one batch and then accepts the next.
// Without the middleware the log keeps the rejected batch and sends it
// again (upstream v0.165.1, docs/reliability.md finding 3); with it, the
// rejected batch is never sent again.
func TestExporterWALLetsGoOfDroppedRequests(t *testing.T) {
	f := func(status int, middleware bool) {
		t.Helper()
		b := &recordingBackend{seen: map[[sha256.Size]byte]bool{}}
		b.status.Store(int64(status))
		srv := httptest.NewServer(b)
		defer srv.Close()

		extID := component.NewID(metadata.Type)
		tel := componenttest.NewTelemetry()
		defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
		ext, err := newExtension(createDefaultConfig(), tel.NewTelemetrySettings(), time.Now)
		require.NoError(t, err)

		factory := prwexporter.NewFactory()
		cfg := factory.CreateDefaultConfig()
		raw := map[string]any{
			"endpoint":                      srv.URL + "/api/v1/remote_write",
			"max_batch_request_parallelism": 1,
			"retry_on_failure":              map[string]any{"enabled": true, "initial_interval": "10ms", "max_interval": "50ms", "max_elapsed_time": "0s"},
			"wal":                           map[string]any{"directory": t.TempDir(), "buffer_size": 1, "truncate_frequency": "50ms"},
		}
		if middleware {
			raw["middlewares"] = []any{map[string]any{"id": extID.String()}}
		}
		require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
		exp, err := factory.CreateMetrics(context.Background(), exportertest.NewNopSettings(factory.Type()), cfg)
		require.NoError(t, err)
		host := hostWith{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{extID: ext}}
		require.NoError(t, exp.Start(context.Background(), host))
		defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

		now := time.Now()
		require.NoError(t, exp.ConsumeMetrics(context.Background(), gauge(now, 1)))
		require.Eventually(t, func() bool { _, _, total := b.counts(); return total >= 1 }, 10*time.Second, 5*time.Millisecond)
		b.status.Store(http.StatusOK)
		require.NoError(t, exp.ConsumeMetrics(context.Background(), gauge(now.Add(time.Second), 2)))
		// The second batch is sent after the log has dealt with the first
		// (one reader, in order), so its arrival ends the observation.
		require.Eventually(t, func() bool { _, fresh, _ := b.counts(); return fresh >= 1 }, 10*time.Second, 5*time.Millisecond)

		repeats, _, total := b.counts()
		t.Logf("status %d, middleware %v: %d requests, %d re-sends", status, middleware, total, repeats)
		if middleware {
			require.Zero(t, repeats, "status %d: a dropped request was sent again", status)
		} else {
			require.Positive(t, repeats, "status %d: upstream no longer re-sends rejected batches from its WAL: revisit docs/reliability.md and this extension", status)
		}
	}
	for _, status := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge} {
		f(status, false)
		f(status, true)
	}
}
