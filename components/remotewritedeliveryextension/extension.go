package remotewritedeliveryextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/diskqueue"
	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
)

// deliveryExtension is the remote_write_delivery extension. The
// remote-write exporter names it as its authenticator
// (`auth: {authenticator: remote_write_delivery}`); confighttp then calls
// RoundTripper with the rest of the exporter's client (middlewares and
// transport), which the sender uses, wrapped in the configured
// authenticator, to deliver what the returned capture queues.
type deliveryExtension struct {
	id     component.ID
	cfg    *Config
	logger *zap.Logger
	rep    *reporter
	now    func() time.Time
	env    func(string) string

	mu         sync.Mutex
	queue      *diskqueue.Queue
	signer     extensionauth.HTTPClient
	unregister func() error
	sender     *sender
	stopSender context.CancelFunc
	abortSend  context.CancelFunc
	shutDown   bool
}

var (
	_ extensionauth.HTTPClient        = (*deliveryExtension)(nil)
	_ extensioncapabilities.Dependent = (*deliveryExtension)(nil)
	_ component.Component             = (*deliveryExtension)(nil)
)

func newExtension(id component.ID, cfg *Config, set component.TelemetrySettings, now func() time.Time) (*deliveryExtension, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	// A drop is logged at error level with what to check; a stack trace
	// of the sender would only bury that.
	logger := set.Logger.WithOptions(zap.AddStacktrace(zapcore.DPanicLevel))
	return &deliveryExtension{
		id:     id,
		cfg:    cfg,
		logger: logger,
		rep:    &reporter{tel: tb, logger: logger, limiter: newLogLimiter(cfg.LogInterval, now)},
		now:    now,
		env:    os.Getenv,
	}, nil
}

// Dependencies makes the collector start the authenticator first (and
// stop it last), and reject a configuration that does not enable it.
func (e *deliveryExtension) Dependencies() []component.ID {
	if e.cfg.Authenticator == (component.ID{}) {
		return nil
	}
	return []component.ID{e.cfg.Authenticator}
}

// queueDir is this component's queue directory: one per component ID, so
// that several exporters, each with its own remote_write_delivery/<name>,
// never share one.
func (e *deliveryExtension) queueDir() string {
	return filepath.Join(e.cfg.Directory, strings.ReplaceAll(e.id.String(), "/", "_"))
}

// Start opens the queue (recovering what a previous run left in it) and
// finds the authenticator.
func (e *deliveryExtension) Start(ctx context.Context, host component.Host) error {
	var signer extensionauth.HTTPClient
	if e.cfg.Authenticator != (component.ID{}) {
		ext, ok := host.GetExtensions()[e.cfg.Authenticator]
		if !ok {
			return fmt.Errorf("authenticator: extension %q is not enabled: add it under service::extensions", e.cfg.Authenticator)
		}
		if signer, ok = ext.(extensionauth.HTTPClient); !ok {
			return fmt.Errorf("authenticator: extension %q is not an HTTP client authenticator", e.cfg.Authenticator)
		}
	}
	dir := e.queueDir()
	queue, err := e.openQueue(ctx, diskqueue.Options{
		Dir:          dir,
		MaxBytes:     e.cfg.maxBytes(),
		SegmentBytes: e.cfg.segmentBytes(),
		SyncInterval: e.cfg.SyncInterval,
		Now:          e.now,
		OnDrop:       e.queueDropped,
	})
	if err != nil {
		return err
	}
	// The gauges name their queue: the SDK keeps one observation per
	// attribute set, so the queues of two remote_write_delivery components
	// would otherwise report as one, whichever observed last.
	unregister, err := e.rep.tel.RegisterQueueCallback(func() metadata.QueueState { return e.queueState(queue) },
		metric.WithAttributes(attribute.String("queue", e.id.String())))
	if err != nil {
		_ = queue.Close()
		return err
	}
	e.rep.zeroCounters(context.Background())
	st := queue.Stats()
	e.logger.Info("remote-write queue opened", zap.String("directory", dir),
		zap.Int64("queued_requests", st.Records), zap.Int64("queued_bytes", st.Bytes),
		zap.Duration("oldest_age", e.age(st.Oldest)))

	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue, e.signer, e.unregister = queue, signer, unregister
	return nil
}

// lockRetryInterval is how often openQueue tries a locked directory again.
const lockRetryInterval = 250 * time.Millisecond

// openQueue opens the queue as opts says. Two processes never share a
// queue directory (the queue's lock refuses the second), but one can find
// it held for a while: a replacement pod that keeps the queue on a
// hostPath or a volume that survives the pod, started while the pod it
// replaces is still stopping. openQueue then waits for the lock, up to
// lock_wait, saying so once, and fails naming the directory and what to
// do if the other process keeps it. The wait keeps the collector from
// getting ready, which a rolling update that starts the new pod before the
// old one stops (a DaemonSet's maxSurge) would wait for forever: the error
// says to roll such a DaemonSet without surge.
func (e *deliveryExtension) openQueue(ctx context.Context, opts diskqueue.Options) (*diskqueue.Queue, error) {
	start := time.Now()
	deadline := start.Add(e.cfg.LockWait)
	for waited := false; ; waited = true {
		queue, err := diskqueue.Open(opts)
		switch {
		case err == nil:
			if waited {
				e.logger.Info("queue directory lock acquired: the other process released it", zap.String("directory", opts.Dir), zap.Duration("waited", time.Since(start)))
			}
			return queue, nil
		case !errors.Is(err, diskqueue.ErrLocked):
			return nil, fmt.Errorf("directory: cannot open the queue in %s (it must be writable by the collector and survive restarts): %w", opts.Dir, err)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("directory: the queue directory %s is still locked by another process after lock_wait (%s): %w. "+
				"Two collectors cannot share a queue directory. If the other one is the previous pod of a rolling update "+
				"(a DaemonSet keeping its queue on a hostPath), roll without surge (maxSurge: 0, the default) so that the old pod stops before the new one starts; "+
				"otherwise give each collector its own directory", opts.Dir, e.cfg.LockWait, err)
		case !waited:
			e.logger.Warn(fmt.Sprintf("queue directory %s is locked by another process, probably the previous collector pod still stopping; waiting up to %s (lock_wait)", opts.Dir, e.cfg.LockWait),
				zap.String("directory", opts.Dir), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("directory: stopped waiting for the lock of %s: %w", opts.Dir, ctx.Err())
		case <-time.After(min(lockRetryInterval, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// errAlreadyUsed is RoundTripper's error for a second exporter naming the
// component.
var errAlreadyUsed = errors.New("already used by another exporter: give each exporter its own remote_write_delivery/<name>")

// RoundTripper starts delivering the queue through base (the exporter's
// middlewares and transport) signed by the authenticator, and returns the
// capture the exporter sends its requests to. One exporter per component:
// a second call fails.
func (e *deliveryExtension) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.queue == nil || e.shutDown:
		return nil, errors.New("remote_write_delivery is not started")
	case e.sender != nil:
		return nil, errAlreadyUsed
	case base == nil:
		return nil, errors.New("remote_write_delivery needs the exporter's transport")
	}
	transport := http.RoundTripper(reachedTransport{next: base})
	if e.signer != nil {
		var err error
		if transport, err = e.signer.RoundTripper(transport); err != nil {
			return nil, fmt.Errorf("authenticator: %w", err)
		}
	}
	stop, stopSender := context.WithCancel(context.Background())
	abort, abortSend := context.WithCancel(context.Background())
	e.sender = &sender{
		queue:     e.queue,
		transport: transport,
		cfg:       e.cfg,
		rep:       e.rep,
		env:       e.env,
		now:       e.now,
		stop:      stop,
		abort:     abort,
		done:      make(chan struct{}),
	}
	e.stopSender, e.abortSend = stopSender, abortSend
	go e.sender.run()
	return newCapture(e.queue, e.rep), nil
}

// Shutdown stops the sender, letting the attempt in flight finish until
// ctx is done, and closes the queue; what is left in it is sent by the next
// start. It is safe to call more than once or before Start.
func (e *deliveryExtension) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutDown {
		return nil
	}
	e.shutDown = true
	if e.sender != nil {
		e.stopSender()
		select {
		case <-e.sender.done:
		case <-ctx.Done():
			e.abortSend()
			<-e.sender.done
		}
		e.abortSend()
	}
	var errs []error
	if e.unregister != nil {
		errs = append(errs, e.unregister())
	}
	if e.queue != nil {
		errs = append(errs, e.queue.Close())
	}
	return errors.Join(errs...)
}

// queueDropped counts and logs what the queue drops by itself.
func (e *deliveryExtension) queueDropped(reason diskqueue.DropReason, records int, bytes int64) {
	ctx := context.Background()
	switch reason {
	case diskqueue.DropQueueFull:
		e.rep.dropped(ctx, reasonQueueFull, int64(records), bytes,
			"the queue reached max_size_mib: its oldest remote-write requests dropped unsent; the backend has been unreachable or too slow for that long",
			zap.Int("requests", records), zap.Int64("bytes", bytes), zap.Int64("max_size_mib", e.cfg.MaxSizeMiB))
	default:
		e.rep.dropped(ctx, reasonCorrupt, int64(records), bytes,
			"damaged data in the queue (a write cut by a crash or power loss, or a disk error): cut; the rest is delivered",
			zap.Int("requests", records), zap.Int64("bytes", bytes), zap.String("directory", e.queueDir()))
	}
}

func (e *deliveryExtension) queueState(queue *diskqueue.Queue) metadata.QueueState {
	st := queue.Stats()
	return metadata.QueueState{Bytes: st.Bytes, Requests: st.Records, OldestAgeSeconds: e.age(st.Oldest).Seconds()}
}

// age is how old a request queued at t is now; 0 for the zero time.
func (e *deliveryExtension) age(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return max(e.now().Sub(t), 0)
}
