package remotewritedeliveryextension

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
)

// Drop reasons decided here rather than by the backend's answer (those are
// the reasons of cause).
const (
	reasonExpired   = "expired"    // older than max_age
	reasonQueueFull = "queue_full" // the oldest dropped to stay within max_size_mib
	reasonDiskFull  = "disk_full"  // the queue's volume is full (ENOSPC)
	reasonDiskError = "disk_error" // any other error writing the queue
	reasonCorrupt   = "corrupt"    // a damaged record found in the queue
)

// retryReasons and dropReasons are every reason attribute the retried and
// dropped counters can carry.
var (
	retryReasons = []string{"connection", "server_error", "throttled", "credentials"}
	dropReasons  = []string{
		"out_of_order", "duplicate_sample", "too_old", "invalid_labels", "bad_request", "too_large", "rejected",
		reasonExpired, reasonQueueFull, reasonDiskFull, reasonDiskError, reasonCorrupt,
	}
)

// zeroCounters makes every reason of the retried and dropped counters exist
// at 0 from the start. A counter that appears with its first event hides
// that event from increase() and rate(), so an alert on them would miss the
// first drop.
func (r *reporter) zeroCounters(ctx context.Context) {
	for _, reason := range retryReasons {
		r.tel.RemoteWriteRetriedRequests.Add(ctx, 0, metric.WithAttributes(attribute.String("reason", reason)))
	}
	for _, reason := range dropReasons {
		attrs := metric.WithAttributes(attribute.String("reason", reason))
		r.tel.RemoteWriteDroppedRequests.Add(ctx, 0, attrs)
		r.tel.RemoteWriteDroppedBytes.Add(ctx, 0, attrs)
	}
}

// reporter counts what happens to requests and logs it, at most one line
// per cause per log_interval, saying in the next line how many occurrences
// it stands for. It is safe for concurrent use.
type reporter struct {
	tel     *metadata.TelemetryBuilder
	logger  *zap.Logger
	limiter *logLimiter
}

// dropped counts a request that will never be delivered and logs it at
// error level: losing data is what a platform team must hear about.
func (r *reporter) dropped(ctx context.Context, reason string, requests, bytes int64, msg string, fields ...zap.Field) {
	reasonAttr := metric.WithAttributes(attribute.String("reason", reason))
	r.tel.RemoteWriteDroppedRequests.Add(ctx, requests, reasonAttr)
	r.tel.RemoteWriteDroppedBytes.Add(ctx, bytes, reasonAttr)
	if ok, n := r.limiter.allow("dropped/" + reason); ok {
		r.logger.Error(msg, append(fields,
			zap.String("reason", reason),
			zap.Int64("occurrences_since_last_log", n),
			zap.Duration("log_interval", r.limiter.interval))...)
	}
}

// retried counts an attempt that will be retried and logs it at level
// under logKey (a backend that is away is logged once per interval, not once
// per attempt).
func (r *reporter) retried(ctx context.Context, reason, logKey string, level zapcore.Level, msg string, fields ...zap.Field) {
	r.tel.RemoteWriteRetriedRequests.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	if ok, n := r.limiter.allow("retried/" + logKey); ok {
		r.logger.Log(level, msg, append(fields,
			zap.String("reason", reason),
			zap.Int64("occurrences_since_last_log", n),
			zap.Duration("log_interval", r.limiter.interval))...)
	}
}

// logOnce logs msg at level at most once per interval for key.
func (r *reporter) logOnce(key string, level zapcore.Level, msg string, fields ...zap.Field) {
	if ok, n := r.limiter.allow("log/" + key); ok {
		r.logger.Log(level, msg, append(fields,
			zap.Int64("occurrences_since_last_log", n),
			zap.Duration("log_interval", r.limiter.interval))...)
	}
}
