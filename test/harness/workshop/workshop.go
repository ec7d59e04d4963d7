package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"
	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
)

// Defaults of Options.
const (
	DefaultRegion          = "us-west-2"
	DefaultWorkspace       = "ws-local"
	DefaultClusterName     = "eks-workshop-local"
	DefaultAccountID       = "000000000000"
	DefaultScrapeInterval  = 5 * time.Second
	DefaultOrdersPerSecond = 2
	DefaultStartTimeout    = 2 * time.Minute
	DefaultStopTimeout     = 15 * time.Second
)

// Options configures Start. The zero value runs the workshop on free
// loopback ports with configs/local.yaml, but needs credentials: AccessKeyID
// and SecretAccessKey are required.
type Options struct {
	// RepoRoot is the repository; "" finds it with RepoRoot().
	RepoRoot string
	// CollectorBinary is the otelcol-eks executable; "" means
	// CollectorBinary(RepoRoot).
	CollectorBinary string
	// ConfigPath is the collector config; "" means <repo>/configs/local.yaml.
	ConfigPath string

	// PrometheusBinary is the prometheus executable; "" looks it up on PATH.
	PrometheusBinary string
	// PrometheusAddr is the loopback host:port Prometheus is reached at
	// (PrometheusURL); "" means wherever promserver started it, a free port.
	PrometheusAddr string
	// StandinAddr and OrdersAddr are loopback host:port addresses for the
	// AMP stand-in and the orders demo; "" picks free ports.
	StandinAddr, OrdersAddr string

	// AccessKeyID and SecretAccessKey are the credentials the stand-in
	// accepts and, unless CollectorSecretAccessKey is set, the collector
	// signs with. Both are required.
	AccessKeyID, SecretAccessKey string
	// CollectorSecretAccessKey, if set, is the secret given to the
	// collector instead of SecretAccessKey: with a different value every
	// request fails SigV4 verification.
	CollectorSecretAccessKey string
	// Region requests are signed for and checked against; "" means DefaultRegion.
	Region string
	// Workspace is the AMP workspace ID in the endpoint's path; "" means DefaultWorkspace.
	Workspace string
	// ClusterName and AccountID become the external labels cluster and
	// account_id; "" means DefaultClusterName and DefaultAccountID.
	ClusterName, AccountID string

	// ScrapeInterval is the collector's scrape interval; 0 means DefaultScrapeInterval.
	ScrapeInterval time.Duration
	// OrdersPerSecond is the orders demo's rate; 0 means
	// DefaultOrdersPerSecond (to run without orders, start paused and never resume).
	OrdersPerSecond float64
	// Seed seeds the demo's order sequence.
	Seed uint64
	// OrdersPaused starts the demo's generator paused.
	OrdersPaused bool

	// CollectorEnv holds extra "NAME=value" entries for the collector's
	// environment, applied last (e.g. OTELCOL_LOG_ENCODING=json).
	CollectorEnv []string
	// FaultProxy puts a faultproxy between the collector and the stand-in
	// (Faults switches it): AMPEndpoint is then the proxy's.
	FaultProxy bool
	// PodsAPI runs a PodsAPI (Pods adds and deletes its pods) and points
	// k8smeta at it: K8SMETA_AUTH_TYPE=kubeConfig and KUBECONFIG.
	PodsAPI bool
	// StandinLogInterval is the stand-in's least time between two logs of
	// one rejection reason; 0 means its default.
	StandinLogInterval time.Duration

	// LogDir receives collector.log, standin.log and prometheus.log; "" means
	// a new temporary directory, removed by Stop unless KeepLogs.
	LogDir string
	// KeepLogs keeps a temporary LogDir after Stop.
	KeepLogs bool
	// LogOutput, if set, is asked for a writer that also receives a part's
	// log as it is written to its file in LogDir, once per part started:
	// "prometheus", "amp-standin", and "collector" at every start of the
	// collector. It may return nil; a writer it returns must never fail a
	// write (the log file would lose the rest).
	LogOutput func(part string) io.Writer
	// Starting, if set, is called by Start just before it starts each
	// part, with a few words saying which (for a progress display).
	Starting func(part string)

	// StartTimeout bounds Start; 0 means DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout is how long the collector may take to exit after
	// SIGTERM before it is killed; 0 means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Workshop is a running local workshop. Its methods are safe for
// concurrent use; Stop ends it.
type Workshop struct {
	opts    Options
	logDir  string
	ownsLog bool

	prom       *promserver.Server
	promFwd    *tcpForwarder
	promLog    *os.File
	standin    *ampstandin.Proxy
	standinLn  net.Listener
	standinSrv *http.Server
	standinLog *childproc.SyncBuffer
	standinF   *os.File
	faults     *faultproxy.Proxy
	pods       *PodsAPI
	orders     *ordersdemo.Server

	// The collector's addresses, kept across StopCollector and
	// StartCollector; runs counts its starts, pastLogs holds the logs of
	// the runs before the current one.
	healthAddr, metricsAddr string
	coll                    *collector
	runs                    int
	pastLogs                strings.Builder
}

// Start runs Prometheus, the AMP stand-in, the orders demo and the
// collector, and returns once the collector is healthy. ctx bounds the
// startup only: the workshop runs until Stop. On failure everything
// started is stopped again.
func Start(ctx context.Context, opts Options) (w *Workshop, err error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	w = &Workshop{opts: opts, logDir: opts.LogDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.Stop())
			w = nil
		}
	}()
	if w.logDir == "" {
		if w.logDir, err = os.MkdirTemp("", "workshop-"); err != nil {
			return w, fmt.Errorf("cannot create log dir: %w", err)
		}
		w.ownsLog = !opts.KeepLogs
	} else if err = os.MkdirAll(w.logDir, 0o755); err != nil {
		return w, fmt.Errorf("cannot create log dir: %w", err)
	}

	starting := func(part string) {
		if opts.Starting != nil {
			opts.Starting(part)
		}
	}
	starting("Prometheus, the stand-in's storage")
	if err = w.startPrometheus(ctx); err != nil {
		return w, err
	}
	starting("the AMP stand-in, checking every request's SigV4 signature")
	if err = w.startStandin(); err != nil {
		return w, err
	}
	if opts.FaultProxy {
		if w.faults, err = faultproxy.Start(faultproxy.Config{Upstream: w.StandinURL()}); err != nil {
			return w, fmt.Errorf("cannot start fault proxy: %w", err)
		}
	}
	if opts.PodsAPI {
		if w.pods, err = StartPodsAPI(); err != nil {
			return w, err
		}
		if err = w.pods.WriteKubeconfig(filepath.Join(w.logDir, "kubeconfig")); err != nil {
			return w, err
		}
	}
	starting("the orders demo")
	w.orders, err = ordersdemo.Start(context.WithoutCancel(ctx), ordersdemo.Config{
		Listen: opts.OrdersAddr,
		Generator: ordersdemo.GeneratorConfig{
			OrdersPerSecond: opts.OrdersPerSecond, Seed: opts.Seed, Paused: opts.OrdersPaused,
		},
	})
	if err != nil {
		return w, fmt.Errorf("cannot start orders demo: %w", err)
	}
	if w.healthAddr, err = freeLoopbackAddr(); err != nil {
		return w, err
	}
	if w.metricsAddr, err = freeLoopbackAddr(); err != nil {
		return w, err
	}
	starting("otelcol-eks with " + opts.ConfigPath)
	if err = w.startCollector(ctx); err != nil {
		return w, err
	}
	return w, nil
}

func (o *Options) fill() error {
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return errors.New("workshop needs an access key id and a secret access key")
	}
	for _, a := range []string{o.PrometheusAddr, o.StandinAddr, o.OrdersAddr} {
		if a == "" {
			continue
		}
		if err := loopback.Check(a); err != nil {
			return err
		}
	}
	if o.StandinAddr == "" {
		o.StandinAddr = "127.0.0.1:0"
	}
	if o.OrdersAddr == "" {
		o.OrdersAddr = "127.0.0.1:0"
	}
	if o.RepoRoot == "" {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	if o.CollectorBinary == "" {
		o.CollectorBinary = CollectorBinary(o.RepoRoot)
	}
	if o.ConfigPath == "" {
		o.ConfigPath = filepath.Join(o.RepoRoot, "configs", "local.yaml")
	}
	if o.CollectorSecretAccessKey == "" {
		o.CollectorSecretAccessKey = o.SecretAccessKey
	}
	setDefault(&o.Region, DefaultRegion)
	setDefault(&o.Workspace, DefaultWorkspace)
	setDefault(&o.ClusterName, DefaultClusterName)
	setDefault(&o.AccountID, DefaultAccountID)
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = DefaultScrapeInterval
	}
	if o.OrdersPerSecond == 0 {
		o.OrdersPerSecond = DefaultOrdersPerSecond
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return nil
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func (w *Workshop) startPrometheus(ctx context.Context) error {
	f, err := os.Create(filepath.Join(w.logDir, "prometheus.log"))
	if err != nil {
		return fmt.Errorf("cannot create prometheus log: %w", err)
	}
	w.promLog = f
	w.prom, err = promserver.Start(ctx, promserver.Options{Binary: w.opts.PrometheusBinary, Output: w.alsoTo("prometheus", f)})
	if err != nil {
		return fmt.Errorf("cannot start prometheus: %w", err)
	}
	if w.opts.PrometheusAddr != "" {
		// promserver always picks a free port; a fixed address is relayed.
		if w.promFwd, err = startForwarder(w.opts.PrometheusAddr, w.prom.Addr()); err != nil {
			return fmt.Errorf("cannot serve prometheus on its address: %w", err)
		}
	}
	return nil
}

func (w *Workshop) startStandin() error {
	f, err := os.Create(filepath.Join(w.logDir, "standin.log"))
	if err != nil {
		return fmt.Errorf("cannot create stand-in log: %w", err)
	}
	w.standinF, w.standinLog = f, &childproc.SyncBuffer{}
	out := []io.Writer{f, w.standinLog}
	if extra := w.logOutput("amp-standin"); extra != nil {
		out = append(out, extra)
	}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(out...), nil)).With("component", "amp-standin")
	w.standin, err = ampstandin.New(ampstandin.Config{
		Upstream: w.prom.RemoteWriteURL(),
		Credentials: aws.Credentials{
			AccessKeyID: w.opts.AccessKeyID, SecretAccessKey: w.opts.SecretAccessKey,
		},
		Region:      w.opts.Region,
		Logger:      logger,
		LogInterval: w.opts.StandinLogInterval,
	})
	if err != nil {
		return fmt.Errorf("cannot configure AMP stand-in: %w", err)
	}
	w.standinLn, err = net.Listen("tcp", w.opts.StandinAddr)
	if err != nil {
		return fmt.Errorf("cannot listen for AMP stand-in on %q: %w", w.opts.StandinAddr, err)
	}
	w.standinSrv = &http.Server{Handler: w.standin, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.standinSrv.Serve(w.standinLn) }()
	return nil
}

func (w *Workshop) startCollector(ctx context.Context) error {
	_, metricsPort, _ := net.SplitHostPort(w.metricsAddr)
	set := []string{
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + devNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + devNull,
		"AWS_ACCESS_KEY_ID=" + w.opts.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + w.opts.CollectorSecretAccessKey,
		"AWS_REGION=" + w.opts.Region,
		"AWS_ACCOUNT_ID=" + w.opts.AccountID,
		"EKS_CLUSTER_NAME=" + w.opts.ClusterName,
		"AMP_ENDPOINT=" + w.AMPEndpoint(),
		"ORDERS_TARGET=" + w.orders.Addr(),
		"SCRAPE_INTERVAL=" + w.opts.ScrapeInterval.String(),
		"HEALTH_CHECK_ENDPOINT=" + w.healthAddr,
		"OTELCOL_METRICS_PORT=" + metricsPort,
		// The remote_write_delivery queue: kept across StopCollector and
		// StartCollector, like a pod's emptyDir across container restarts.
		"OTELCOL_STORAGE_DIR=" + filepath.Join(w.logDir, "storage"),
	}
	if w.pods != nil {
		set = append(set, "K8SMETA_AUTH_TYPE=kubeConfig", "KUBECONFIG="+filepath.Join(w.logDir, "kubeconfig"))
	}
	env := collectorEnv(os.Environ(), append(set, w.opts.CollectorEnv...))
	w.runs++
	logName := "collector.log"
	if w.runs > 1 {
		logName = fmt.Sprintf("collector-%d.log", w.runs)
	}
	var err error
	w.coll, err = startCollector(w.opts.CollectorBinary, w.opts.ConfigPath, env,
		filepath.Join(w.logDir, logName), w.logOutput("collector"), "http://"+w.healthAddr+"/")
	if err != nil {
		return err
	}
	return w.coll.waitHealthy(ctx)
}

// logOutput returns Options.LogOutput's writer for part, or nil.
func (w *Workshop) logOutput(part string) io.Writer {
	if w.opts.LogOutput == nil {
		return nil
	}
	return w.opts.LogOutput(part)
}

// alsoTo returns file, and also LogOutput's writer for part if there is one.
func (w *Workshop) alsoTo(part string, file io.Writer) io.Writer {
	if extra := w.logOutput(part); extra != nil {
		return io.MultiWriter(file, extra)
	}
	return file
}

// StartCollector starts the collector again after StopCollector, as a
// container restarted in its pod: the same environment, ports and queue
// directory (OTELCOL_STORAGE_DIR), except that it signs with
// secretAccessKey when that is not "". It returns once the collector is
// healthy. Its log goes to collector-<run>.log; CollectorLog returns the
// logs of every run.
func (w *Workshop) StartCollector(ctx context.Context, secretAccessKey string) error {
	if w.coll != nil {
		select {
		case <-w.coll.Exited():
		default:
			return errors.New("the collector is running: StopCollector first")
		}
		w.pastLogs.WriteString(w.coll.Log())
	}
	if secretAccessKey != "" {
		w.opts.CollectorSecretAccessKey = secretAccessKey
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.StartTimeout)
	defer cancel()
	return w.startCollector(ctx)
}

// freeLoopbackAddr asks the kernel for a free 127.0.0.1 port. Another
// process may take it before the collector binds it; the collector then
// fails to start and says so.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Prometheus returns the Prometheus server behind the stand-in. Its URL
// is where promserver started it; PrometheusURL is where users look.
func (w *Workshop) Prometheus() *promserver.Server { return w.prom }

// PrometheusURL returns Prometheus' base URL at Options.PrometheusAddr, or
// promserver's own URL when no address was given.
func (w *Workshop) PrometheusURL() string {
	if w.promFwd != nil {
		return "http://" + w.promFwd.Addr()
	}
	return w.prom.URL()
}

// GraphURL returns the Prometheus web UI's graph page for promql, at
// PrometheusURL.
func (w *Workshop) GraphURL(promql string) string {
	return w.PrometheusURL() + "/graph?g0.expr=" + url.QueryEscape(promql) + "&g0.tab=0"
}

// Standin returns the AMP stand-in, whose Stats count the collector's requests.
func (w *Workshop) Standin() *ampstandin.Proxy { return w.standin }

// StandinURL returns the stand-in's base URL, e.g. http://127.0.0.1:9091.
func (w *Workshop) StandinURL() string { return "http://" + w.standinLn.Addr().String() }

// AMPEndpoint returns the workspace URL given to the collector as
// AMP_ENDPOINT, with a trailing slash, as AMP's console shows it: the
// stand-in's, or the fault proxy's in front of it.
func (w *Workshop) AMPEndpoint() string {
	base := w.StandinURL()
	if w.faults != nil {
		base = w.faults.URL()
	}
	return base + "/workspaces/" + w.opts.Workspace + "/"
}

// Orders returns the orders demo.
func (w *Workshop) Orders() *ordersdemo.Server { return w.orders }

// Options returns the options in effect, defaults filled in.
func (w *Workshop) Options() Options { return w.opts }

// LogDir returns the directory holding collector.log, standin.log and
// prometheus.log.
func (w *Workshop) LogDir() string { return w.logDir }

// CollectorLog returns what the collector has written to stdout and
// stderr, in every run (StartCollector).
func (w *Workshop) CollectorLog() string { return w.pastLogs.String() + w.coll.Log() }

// CollectorMetricsURL returns the collector's own telemetry endpoint (what
// its prometheus/self receiver scrapes), e.g. http://127.0.0.1:40123/metrics.
func (w *Workshop) CollectorMetricsURL() string { return "http://" + w.metricsAddr + "/metrics" }

// Faults returns the fault proxy between the collector and the stand-in;
// nil unless Options.FaultProxy.
func (w *Workshop) Faults() *faultproxy.Proxy { return w.faults }

// Pods returns the pods API k8smeta watches; nil unless Options.PodsAPI.
func (w *Workshop) Pods() *PodsAPI { return w.pods }

// StandinLog returns what the stand-in has logged.
func (w *Workshop) StandinLog() string { return w.standinLog.String() }

// PrometheusLog returns what Prometheus has logged.
func (w *Workshop) PrometheusLog() string { return w.prom.Logs() }

// CollectorExited is closed when the collector process has exited.
func (w *Workshop) CollectorExited() <-chan struct{} { return w.coll.Exited() }

// StopCollector stops only the collector (SIGTERM, then a kill after
// Options.StopTimeout), so a caller can read its complete log and the
// stand-in's final counters. Stop calls it too; calling both is fine.
func (w *Workshop) StopCollector() error {
	if w.coll == nil {
		return nil
	}
	return w.coll.Stop(w.opts.StopTimeout)
}

// Stop ends every part, the collector first so that it can flush, and
// removes the temporary log dir unless KeepLogs. It returns every error met;
// calling it again is harmless.
func (w *Workshop) Stop() error {
	var errs []error
	if err := w.StopCollector(); err != nil {
		errs = append(errs, err)
	}
	if w.orders != nil {
		if err := w.orders.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if w.pods != nil {
		if err := w.pods.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot stop pods API: %w", err))
		}
	}
	if w.faults != nil {
		if err := w.faults.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot stop fault proxy: %w", err))
		}
	}
	if w.standinSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := w.standinSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot shut down AMP stand-in: %w", err))
		}
		cancel()
	} else if w.standinLn != nil {
		w.standinLn.Close()
	}
	if w.promFwd != nil {
		w.promFwd.Close()
	}
	if w.prom != nil {
		if err := w.prom.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []*os.File{w.promLog, w.standinF} {
		if f != nil {
			f.Close()
		}
	}
	if w.ownsLog {
		if err := os.RemoveAll(w.logDir); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove log dir: %w", err))
		}
		w.ownsLog = false
	}
	return errors.Join(errs...)
}
