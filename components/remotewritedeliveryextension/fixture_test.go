package remotewritedeliveryextension

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
	"github.com/otelcol-eks/otelcol-eks/test/harness/fakeclock"
)

// received is one request as the backend saw it.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// backend is a remote-write endpoint on loopback that answers each request
// with the next status of its script (the last one repeats) and records
// every request.
type backend struct {
	srv *httptest.Server

	mu         sync.Mutex
	script     []int
	retryAfter string
	message    string
	got        []received
	// hold, when set, blocks every request until it is closed.
	hold chan struct{}
}

func newBackend(t *testing.T, script ...int) *backend {
	t.Helper()
	b := &backend{script: script}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	hold := b.hold
	b.got = append(b.got, received{at: time.Now(), header: r.Header.Clone(), body: body})
	status := http.StatusOK
	if len(b.script) > 0 {
		status = b.script[0]
		if len(b.script) > 1 {
			b.script = b.script[1:]
		}
	}
	retryAfter, message := b.retryAfter, b.message
	b.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, message)
}

func (b *backend) url() string { return b.srv.URL + "/workspaces/ws-1/api/v1/remote_write" }

func (b *backend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.got...)
}

func (b *backend) waitRequests(t *testing.T, n int) []received {
	t.Helper()
	require.Eventually(t, func() bool { return len(b.requests()) >= n }, 10*time.Second, 2*time.Millisecond,
		"the backend did not get %d requests", n)
	return b.requests()
}

// stampingAuth stands for sigv4auth: it stamps every attempt with a fresh
// X-Test-Attempt header, so tests see that signing happens at send time.
// While fail is set it refuses to sign, as sigv4auth does without
// credentials.
type stampingAuth struct {
	component.StartFunc
	component.ShutdownFunc
	attempts atomic.Int64
	fail     atomic.Bool
}

func (a *stampingAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if a.fail.Load() {
			return nil, errors.New("error retrieving credentials: no web identity token")
		}
		signed := req.Clone(req.Context())
		signed.Header.Set("X-Test-Attempt", strconv.FormatInt(a.attempts.Add(1), 10))
		return base.RoundTrip(signed)
	}), nil
}

var _ extensionauth.HTTPClient = (*stampingAuth)(nil)

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// hostWith offers exts to Start, as the service does.
type hostWith struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h.exts }

var (
	authID     = component.MustNewID("test_auth")
	deliveryID = component.NewID(metadata.Type)
)

// testConfig is the default configuration with fast retries in dir and
// one request in flight, so that the order of the attempts is the queue's.
func testConfig(dir string) *Config {
	cfg := createDefaultConfig()
	cfg.MaxInFlight = 1
	cfg.Directory = dir
	cfg.Authenticator = authID
	cfg.MaxSizeMiB = minMaxSizeMiB
	cfg.Retry.InitialInterval = 5 * time.Millisecond
	cfg.Retry.MaxInterval = 20 * time.Millisecond
	cfg.Retry.CredentialsInterval = 20 * time.Millisecond
	return cfg
}

// fixture is one started extension and the client an exporter would hold.
type fixture struct {
	ext    *deliveryExtension
	auth   *stampingAuth
	tel    *componenttest.Telemetry
	logs   *observer.ObservedLogs
	client *http.Client
	// clock starts at the real time, so that the queue's timestamps and
	// the sender's ages agree.
	clock *fakeclock.Clock
}

func startFixture(t *testing.T, cfg *Config) *fixture {
	t.Helper()
	require.NoError(t, cfg.Validate())
	fx := &fixture{auth: &stampingAuth{}, tel: componenttest.NewTelemetry(), clock: fakeclock.New(time.Now())}
	t.Cleanup(func() { require.NoError(t, fx.tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.InfoLevel)
	fx.logs = logs
	set := fx.tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	ext, err := newExtension(deliveryID, cfg, set, fx.clock.Now)
	require.NoError(t, err)
	ext.env = func(string) string { return "" }
	fx.ext = ext
	host := hostWith{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{authID: fx.auth, deliveryID: ext}}
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	rt, err := ext.RoundTripper(http.DefaultTransport.(*http.Transport).Clone())
	require.NoError(t, err)
	fx.client = &http.Client{Transport: rt}
	return fx
}

// send posts body to url as the remote-write exporter does and requires the
// exporter's answer to be 204.
func (fx *fixture) send(t *testing.T, url string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "otelcol-eks/test")
	resp, err := fx.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode, resp.Status)
}

// sum adds the int64 sum data points of the named metric whose attributes
// include every key=value of want.
func (fx *fixture) sum(t *testing.T, name string, want ...string) int64 {
	t.Helper()
	m, err := fx.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			if v, _ := dp.Attributes.Value(attribute.Key(want[i])); v.AsString() != want[i+1] {
				ok = false
			}
		}
		if ok {
			n += dp.Value
		}
	}
	return n
}

// gauge reads the last value of an int64 gauge.
func (fx *fixture) gauge(t *testing.T, name string) int64 {
	t.Helper()
	m, err := fx.tel.GetMetric(name)
	require.NoError(t, err)
	dps := m.Data.(metricdata.Gauge[int64]).DataPoints
	require.Len(t, dps, 1)
	return dps[0].Value
}

// logCount counts the log lines whose message starts with prefix.
func (fx *fixture) logCount(prefix string) int {
	n := 0
	for _, e := range fx.logs.All() {
		if len(e.Message) >= len(prefix) && e.Message[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

// hasPoint tells whether the int64 sum name has a data point with reason.
func (fx *fixture) hasPoint(t *testing.T, name, reason string) bool {
	t.Helper()
	m, err := fx.tel.GetMetric(name)
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("reason"); v.AsString() == reason {
			return true
		}
	}
	return false
}
