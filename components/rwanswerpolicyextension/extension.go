package rwanswerpolicyextension

import (
	"context"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension/internal/metadata"
)

// answersExtension is the remote_write_answers extension. The exporter
// names it in `middlewares: [{id: remote_write_answers}]`; confighttp then
// calls GetHTTPRoundTripper when the exporter builds its client.
type answersExtension struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	// limiter is shared by every client wrapped by this extension, so a
	// cause is logged once per interval however many exporters use it.
	limiter *logLimiter
	env     func(string) string
}

var (
	_ extensionmiddleware.HTTPClient = (*answersExtension)(nil)
	_ component.Component            = (*answersExtension)(nil)
)

func newExtension(cfg *Config, set component.TelemetrySettings, now func() time.Time) (*answersExtension, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &answersExtension{
		cfg:       cfg,
		logger:    set.Logger,
		telemetry: tb,
		limiter:   newLogLimiter(cfg.LogInterval, now),
		env:       os.Getenv,
	}, nil
}

// Start does nothing: the extension holds no resources.
func (*answersExtension) Start(context.Context, component.Host) error { return nil }

// Shutdown does nothing; it is safe to call more than once or before Start.
func (*answersExtension) Shutdown(context.Context) error { return nil }

// GetHTTPRoundTripper returns the wrapper that applies the answer policy to
// the round tripper it is given (for the remote-write exporter: the
// transport, inside SigV4 signing).
func (e *answersExtension) GetHTTPRoundTripper(context.Context) (extensionmiddleware.WrapHTTPRoundTripperFunc, error) {
	return func(_ context.Context, next http.RoundTripper) (http.RoundTripper, error) {
		if next == nil {
			return nil, errNoNext
		}
		return e.wrap(next), nil
	}, nil
}

func (e *answersExtension) wrap(next http.RoundTripper) *answerPolicy {
	permanent := make(map[int]bool, len(e.cfg.PermanentStatuses))
	for _, code := range e.cfg.PermanentStatuses {
		permanent[code] = true
	}
	return &answerPolicy{
		next:      next,
		permanent: permanent,
		telemetry: e.telemetry,
		logger:    e.logger,
		limiter:   e.limiter,
		env:       e.env,
	}
}
