package rwanswerpolicyextension

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testKeyID   = "AKIDANSWERSTEST00001"
	testSecret  = "answers-secret-key-Zq8vN3xR7wLp2sTb9yKm"
	testToken   = "answers-session-token-Hj4Kd8Wq1Zx5Cv7Bn0Mf"
	testAMPHost = "aps-workspaces.us-west-2.amazonaws.com"
)

// backend answers every request with the status and body it is set to and
// records the requests it saw.
type backend struct {
	mu     sync.Mutex
	status int
	body   string
	seen   int
}

func (b *backend) set(status int, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status, b.body = status, body
}

func (b *backend) RoundTrip(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen++
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		Status:     http.StatusText(b.status),
		StatusCode: b.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{},
		Body:    io.NopCloser(strings.NewReader(b.body)),
		Request: req,
	}, nil
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	tel     *componenttest.Telemetry
	logs    *observer.ObservedLogs
	clock   *fakeClock
	backend *backend
	client  *http.Client
}

func newFixture(t *testing.T, cfg *Config, env map[string]string) *fixture {
	t.Helper()
	require.NoError(t, cfg.Validate())
	fx := &fixture{
		tel:     componenttest.NewTelemetry(),
		clock:   &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		backend: &backend{status: http.StatusOK},
	}
	t.Cleanup(func() { require.NoError(t, fx.tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.InfoLevel)
	fx.logs = logs
	set := fx.tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	ext, err := newExtension(cfg, set, fx.clock.Now)
	require.NoError(t, err)
	ext.env = func(name string) string { return env[name] }
	wrap, err := ext.GetHTTPRoundTripper(context.Background())
	require.NoError(t, err)
	rt, err := wrap(context.Background(), fx.backend)
	require.NoError(t, err)
	fx.client = &http.Client{Transport: rt}
	return fx
}

// send posts a snappy-encoded body of decoded bytes, signed-looking like
// sigv4auth's requests, and returns the answer the exporter would see.
func (fx *fixture) send(t *testing.T, decoded int) *http.Response {
	t.Helper()
	body := snappy.Encode(nil, bytes.Repeat([]byte{'x'}, decoded))
	req, err := http.NewRequest(http.MethodPost, "https://"+testAMPHost+"/workspaces/ws-1/api/v1/remote_write", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKeyID+"/20261126/eu-west-1/aps/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=0123abcd")
	req.Header.Set("X-Amz-Security-Token", testToken)
	resp, err := fx.client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func (fx *fixture) dropLogs() []observer.LoggedEntry {
	return fx.logs.FilterMessageSnippet("rejected for good").All()
}

func TestRetryableAndSuccessfulAnswersPassThrough(t *testing.T) {
	fx := newFixture(t, createDefaultConfig(), nil)
	f := func(status int) {
		t.Helper()
		fx.backend.set(status, "backend says "+http.StatusText(status))
		resp := fx.send(t, 100)
		require.Equal(t, status, resp.StatusCode)
		require.Empty(t, resp.Header.Get(DroppedHeader))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "backend says "+http.StatusText(status), string(body), "the body must reach the exporter untouched")
	}
	f(http.StatusOK)
	f(http.StatusNoContent)
	f(http.StatusInternalServerError)
	f(http.StatusServiceUnavailable)
	f(http.StatusTooManyRequests)
	f(http.StatusUnauthorized) // not in the default list
	require.Empty(t, fx.logs.All(), "answers passed through are the exporter's to log")

	got, err := fx.tel.GetMetric("otelcol_remote_write_answers")
	require.NoError(t, err)
	point := func(code, class string) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("code", code), attribute.String("class", class)), Value: 1}
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "otelcol_remote_write_answers",
		Description: "Answers of the remote-write backend, by HTTP status code and class. [Alpha]",
		Unit:        "{answer}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{
			point("200", "2xx"), point("204", "2xx"), point("500", "5xx"), point("503", "5xx"), point("429", "4xx"), point("401", "4xx"),
		}},
	}, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	_, err = fx.tel.GetMetric("otelcol_remote_write_dropped_requests")
	require.Error(t, err, "nothing was dropped")
}

func TestTransportErrorPassesThrough(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	ext, err := newExtension(createDefaultConfig(), tel.NewTelemetrySettings(), time.Now)
	require.NoError(t, err)
	refused := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, io.ErrUnexpectedEOF })
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/api/v1/remote_write", http.NoBody)
	require.NoError(t, err)
	resp, err := ext.wrap(refused).RoundTrip(req)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Nil(t, resp)
	got, err := tel.GetMetric("otelcol_remote_write_answers")
	require.NoError(t, err)
	require.Equal(t, attribute.NewSet(attribute.String("code", "none"), attribute.String("class", "error")),
		got.Data.(metricdata.Sum[int64]).DataPoints[0].Attributes)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPermanentRejectionsAreDroppedCountedLoggedOncePerCause(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.LogInterval = time.Minute
	fx := newFixture(t, cfg, map[string]string{"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret, "AWS_SESSION_TOKEN": testToken})

	// One cause, three times within the interval: three drops, one line.
	fx.backend.set(http.StatusBadRequest, "out of order sample for series {__name__=\"up\"}")
	for range 3 {
		resp := fx.send(t, 1000)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "a permanent rejection is answered 2xx so the exporter lets go")
		require.Equal(t, "400", resp.Header.Get(DroppedHeader))
		require.Contains(t, resp.Status, `backend answered "Bad Request"; dropped by remote_write_answers`)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Empty(t, body)
	}
	require.Len(t, fx.dropLogs(), 1)
	// Another reason of the same status is another cause: logged at once.
	fx.backend.set(http.StatusBadRequest, "duplicate sample for timestamp")
	fx.send(t, 1000)
	fx.backend.set(http.StatusRequestEntityTooLarge, "request too large")
	fx.send(t, 2_000_000)
	fx.backend.set(http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Canonical request: x-amz-security-token:"+testToken)
	fx.send(t, 1000)
	fx.send(t, 1000)
	require.Len(t, fx.dropLogs(), 4)
	// After the interval the first cause logs again, with its held-back count.
	fx.clock.Add(time.Minute)
	fx.backend.set(http.StatusBadRequest, "out of order sample")
	fx.send(t, 1000)

	lines := fx.dropLogs()
	require.Len(t, lines, 5)
	field := func(i int, key string) any {
		t.Helper()
		v, ok := lines[i].ContextMap()[key]
		require.True(t, ok, "line %d has no %s: %v", i, key, lines[i].ContextMap())
		return v
	}
	f := func(i, code int, reason string, dropped int64, hintParts ...string) {
		t.Helper()
		require.Equal(t, zapcore.ErrorLevel, lines[i].Level)
		require.EqualValues(t, code, field(i, "status_code"))
		require.Equal(t, reason, field(i, "reason"))
		require.EqualValues(t, dropped, field(i, "dropped_since_last_log"))
		require.Equal(t, "https://"+testAMPHost+"/workspaces/ws-1/api/v1/remote_write", field(i, "endpoint"))
		for _, part := range hintParts {
			require.Contains(t, field(i, "hint"), part)
		}
	}
	f(0, 400, "out_of_order", 1, "max_batch_request_parallelism")
	f(1, 400, "duplicate_sample", 1, "external_labels")
	f(2, 413, "too_large", 1, "decoded", "2000000 decoded", "max_batch_size_bytes")
	f(3, 403, "forbidden", 1,
		`signed for region "eu-west-1", service "aps"`, `but the endpoint is in region "us-west-2"`,
		"access key id "+testKeyID, "AWS_ACCESS_KEY_ID", "session token (AWS_SESSION_TOKEN)", "aps:RemoteWrite")
	f(4, 400, "out_of_order", 3)
	require.Contains(t, field(3, "backend_message"), "The request signature we calculated does not match")

	for _, l := range fx.logs.All() {
		for k, v := range l.ContextMap() {
			s, _ := v.(string)
			require.NotContains(t, s, testSecret, "field %s", k)
			require.NotContains(t, s, testToken, "field %s", k)
		}
	}

	dropped, err := fx.tel.GetMetric("otelcol_remote_write_dropped_requests")
	require.NoError(t, err)
	point := func(code, reason string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("code", code), attribute.String("reason", reason)), Value: n}
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "otelcol_remote_write_dropped_requests",
		Description: "Remote-write requests the backend rejected for good, dropped instead of re-sent, by code and reason. [Alpha]",
		Unit:        "{request}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{
			point("400", "out_of_order", 4), point("400", "duplicate_sample", 1), point("413", "too_large", 1), point("403", "forbidden", 2),
		}},
	}, dropped, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	bytesDropped, err := fx.tel.GetMetric("otelcol_remote_write_dropped_bytes")
	require.NoError(t, err)
	var total int64
	for _, dp := range bytesDropped.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	require.Positive(t, total)
	require.Equal(t, 8, fx.backend.seen)
}

func TestClassify(t *testing.T) {
	f := func(code int, message, want string) {
		t.Helper()
		require.Equal(t, want, classify(code, message).reason, "%d %q", code, message)
	}
	f(400, "out of order sample", "out_of_order")
	f(400, "err: out-of-order samples", "out_of_order")
	f(400, "duplicate sample for timestamp", "duplicate_sample")
	f(400, "sample timestamp out of bounds", "too_old")
	f(400, "sample is too old", "too_old")
	f(400, `invalid label name "0abc"`, "invalid_labels")
	f(400, "series has too many labels", "invalid_labels")
	f(400, "snappy: corrupt input", "bad_request")
	f(403, "anything", "forbidden")
	f(413, "", "too_large")
	f(422, "unprocessable", "rejected")
}

func TestCredentialsSource(t *testing.T) {
	f := func(env map[string]string, want ...string) {
		t.Helper()
		got := credentialsSource(func(k string) string { return env[k] })
		for _, w := range want {
			require.Contains(t, got, w)
		}
		require.NotContains(t, got, testSecret)
		require.NotContains(t, got, testToken)
	}
	f(map[string]string{"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}, "static keys", testKeyID)
	f(map[string]string{"AWS_PROFILE": "amp-writer"}, `shared profile "amp-writer"`)
	f(map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/amp", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
		"IRSA", "arn:aws:iam::111122223333:role/amp", "trust policy")
	f(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, "EKS Pod Identity")
	f(map[string]string{}, "instance profile")
}

func TestForbiddenHintWithoutSignature(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9091/api/v1/remote_write", http.NoBody)
	require.NoError(t, err)
	got := forbiddenHint(req, func(string) string { return "" })
	require.Contains(t, got, "no SigV4 signature")
	require.Contains(t, got, "instance profile")
}

func TestSignedForAnotherService(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "https://"+testAMPHost+"/api/v1/remote_write", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKeyID+"/20261126/us-west-2/execute-api/aws4_request, SignedHeaders=host, Signature=ab")
	got := forbiddenHint(req, func(string) string { return "" })
	require.Contains(t, got, `service "execute-api" (AMP wants service "aps")`)
	require.NotContains(t, got, "but the endpoint is in region")
}
