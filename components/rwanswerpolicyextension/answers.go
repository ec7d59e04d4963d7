package rwanswerpolicyextension

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang/snappy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension/internal/metadata"
)

const (
	// messageBytes is how much of a rejection's body is read and logged:
	// enough for AMP's message (upstream's exporter reads as much).
	messageBytes = 1024
	// drainBytes bounds what is read after the message so that the
	// connection can be reused; a longer body closes the connection.
	drainBytes = 64 << 10
	// DroppedHeader is set on the synthetic answer to a dropped request; its
	// value is the backend's status code.
	DroppedHeader = "X-Otelcol-Eks-Dropped"
)

// answerPolicy is the http.RoundTripper the extension puts between the
// exporter and the backend (after SigV4 signing: see confighttp.ToClient).
// It is safe for concurrent use.
type answerPolicy struct {
	next      http.RoundTripper
	permanent map[int]bool
	telemetry *metadata.TelemetryBuilder
	logger    *zap.Logger
	limiter   *logLimiter
	// env reads the environment (os.Getenv), for the 403 hint.
	env func(string) string
}

// RoundTrip sends req and applies the answer policy to the backend's answer:
// an error or a status not in permanent_statuses is returned unchanged;
// a permanent rejection is counted, logged (rate-limited per cause) and
// replaced with a synthetic 204 answer whose body is empty.
func (p *answerPolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	ctx := req.Context()
	if err != nil {
		p.telemetry.RemoteWriteAnswers.Add(ctx, 1, metric.WithAttributes(
			attribute.String("code", "none"), attribute.String("class", "error")))
		return resp, err
	}
	code := strconv.Itoa(resp.StatusCode)
	p.telemetry.RemoteWriteAnswers.Add(ctx, 1, metric.WithAttributes(
		attribute.String("code", code), attribute.String("class", statusClass(resp.StatusCode))))
	if !p.permanent[resp.StatusCode] {
		return resp, nil
	}

	message := readMessage(resp.Body)
	message = redact(message, req.Header.Get("X-Amz-Security-Token"))
	c := classify(resp.StatusCode, message)
	p.telemetry.RemoteWriteDroppedRequests.Add(ctx, 1, metric.WithAttributes(
		attribute.String("code", code), attribute.String("reason", c.reason)))
	if req.ContentLength > 0 {
		p.telemetry.RemoteWriteDroppedBytes.Add(ctx, req.ContentLength, metric.WithAttributes(
			attribute.String("reason", c.reason)))
	}
	if ok, dropped := p.limiter.allow(c.key()); ok {
		p.logger.Error("remote-write request rejected for good by the backend: dropped, not re-sent",
			zap.Int("status_code", resp.StatusCode),
			zap.String("status", resp.Status),
			zap.String("reason", c.reason),
			zap.String("backend_message", message),
			zap.String("hint", p.hint(c, req)),
			zap.String("endpoint", endpoint(req)),
			zap.Int64("request_bytes", req.ContentLength),
			zap.Int64("dropped_since_last_log", dropped),
			zap.Duration("log_interval", p.limiter.interval),
		)
	}
	return syntheticAnswer(req, resp), nil
}

// syntheticAnswer is what the exporter gets for a dropped request: a 2xx
// (the only answer after which the exporter and its write-ahead log let go
// of a request), named loudly in its status text and a header.
func syntheticAnswer(req *http.Request, backend *http.Response) *http.Response {
	h := http.Header{}
	h.Set(DroppedHeader, strconv.Itoa(backend.StatusCode))
	return &http.Response{
		Status: fmt.Sprintf("%d %s (backend answered %q; dropped by %s, not re-sent)",
			http.StatusNoContent, http.StatusText(http.StatusNoContent), backend.Status, "remote_write_answers"),
		StatusCode:    http.StatusNoContent,
		Proto:         backend.Proto,
		ProtoMajor:    backend.ProtoMajor,
		ProtoMinor:    backend.ProtoMinor,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: 0,
		Request:       req,
	}
}

// readMessage returns the start of body as valid UTF-8 without surrounding
// space, then drains a bounded rest and closes body.
func readMessage(body io.ReadCloser) string {
	defer body.Close()
	buf, _ := io.ReadAll(io.LimitReader(body, messageBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainBytes))
	return strings.TrimSpace(strings.ToValidUTF8(string(buf), "\uFFFD"))
}

// redact removes the session token from a backend message: AWS echoes the
// canonical request, signed headers included, when a signature does not
// match.
func redact(message, token string) string {
	if token == "" {
		return message
	}
	return strings.ReplaceAll(message, token, "[redacted session token]")
}

// endpoint is the request URL without user information or query.
func endpoint(req *http.Request) string {
	u := *req.URL
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// decodedSize returns the snappy-decoded size of req's body, read from the
// length header at the start of a copy of the body, or -1 when unknown.
func decodedSize(req *http.Request) int64 {
	if req.GetBody == nil || !strings.EqualFold(req.Header.Get("Content-Encoding"), "snappy") {
		return -1
	}
	rc, err := req.GetBody()
	if err != nil {
		return -1
	}
	defer rc.Close()
	head := make([]byte, binary.MaxVarintLen32)
	n, _ := io.ReadFull(rc, head)
	size, err := snappy.DecodedLen(head[:n])
	if err != nil {
		return -1
	}
	return int64(size)
}
