package ampstandin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/sigv4check"
)

// Paths accepted as remote-write endpoints: AMP's
// /workspaces/<id>/api/v1/remote_write (any prefix) and Prometheus'
// /api/v1/write.
const (
	AMPWritePathSuffix        = "/api/v1/remote_write"
	PrometheusWritePathSuffix = "/api/v1/write"
)

// DefaultLogInterval is how often each rejection cause may be logged.
const DefaultLogInterval = 10 * time.Second

// maxUpstreamAnswer bounds the upstream response body relayed to the client.
const maxUpstreamAnswer = 1 << 20

// Config configures a Proxy.
type Config struct {
	// Upstream is the remote-write endpoint good requests are forwarded to,
	// e.g. http://127.0.0.1:9090/api/v1/write. Required.
	Upstream string
	// Credentials are the only accepted access key and secret (and session
	// token, if set). Required.
	Credentials aws.Credentials
	// Region is the region requests must be signed for. Required.
	Region string
	// Service is the service requests must be signed for; "" means "aps".
	Service string
	// MaxSkew is the accepted clock skew; 0 means sigv4check.DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives rejection and upstream-error logs; nil means slog.Default().
	Logger *slog.Logger
	// LogInterval is the least time between two logs of one rejection
	// cause (or of upstream errors); 0 means DefaultLogInterval.
	LogInterval time.Duration
	// Client forwards to the upstream; nil means a client with a 30s timeout.
	Client *http.Client
	// HA turns on AMP's deduplication of HA pairs (ha.go); off by default.
	HA HAConfig
}

// Proxy is the stand-in's http.Handler. It is safe for concurrent use.
type Proxy struct {
	upstream *url.URL
	// verifier is replaced whole by SetCredentials.
	verifier atomic.Pointer[sigv4check.Verifier]
	client   *http.Client
	logger   *slog.Logger
	limiter  *logLimiter
	stats    counters
	// ha is nil when the deduplication of HA pairs is off.
	ha  *haTracker
	now func() time.Time
}

// New validates cfg and returns the stand-in. The returned *Proxy is an
// http.Handler serving:
//
//	POST …/api/v1/remote_write, POST …/api/v1/write  verify, deduplicate (HA), then forward
//	GET /stats                                        counters as JSON (Stats)
//	GET /metrics                                      counters as Prometheus text
//	GET /-/healthy, GET /-/ready                      200 once serving
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == "" {
		return nil, errors.New("upstream URL is required")
	}
	u, err := url.Parse(cfg.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http(s) URL", cfg.Upstream)
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return nil, errors.New("an access key id and a secret access key are required")
	}
	if cfg.Region == "" {
		return nil, errors.New("region is required")
	}
	if cfg.Service == "" {
		cfg.Service = "aps"
	}
	if cfg.HA.FailoverTimeout < 0 {
		return nil, fmt.Errorf("HA failover timeout %s is negative", cfg.HA.FailoverTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = DefaultLogInterval
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p := &Proxy{
		upstream: u,
		client:   cfg.Client,
		logger:   cfg.Logger,
		limiter:  &logLimiter{interval: cfg.LogInterval, now: now, last: map[string]logState{}},
		stats:    newCounters(),
		now:      now,
	}
	if cfg.HA.Enabled {
		p.ha = newHATracker(cfg.HA)
	}
	p.verifier.Store(&sigv4check.Verifier{
		Credentials: cfg.Credentials,
		Region:      cfg.Region,
		Service:     cfg.Service,
		MaxSkew:     cfg.MaxSkew,
		Now:         cfg.Now,
	})
	return p, nil
}

// SetCredentials makes the stand-in accept c, and only c, from the next
// request on, as a workspace does once an IAM change reaches it (a key
// activated, a policy granting aps:RemoteWrite attached).
func (p *Proxy) SetCredentials(c aws.Credentials) error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("an access key id and a secret access key are required")
	}
	v := *p.verifier.Load()
	v.Credentials = c
	p.verifier.Store(&v)
	return nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, AMPWritePathSuffix) || strings.HasSuffix(path, PrometheusWritePathSuffix):
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSONMessage(w, http.StatusMethodNotAllowed, "Only POST is supported on the remote write endpoint.")
			return
		}
		p.write(w, r)
	case path == "/stats" && r.Method == http.MethodGet:
		p.serveStats(w)
	case path == "/metrics" && r.Method == http.MethodGet:
		p.serveMetrics(w)
	case (path == "/-/healthy" || path == "/-/ready") && r.Method == http.MethodGet:
		_, _ = io.WriteString(w, "AMP stand-in is ready.\n")
	default:
		writeJSONMessage(w, http.StatusNotFound, "Not Found")
	}
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats { return p.stats.snapshot() }

func (p *Proxy) write(w http.ResponseWriter, r *http.Request) {
	verifier := p.verifier.Load()
	body, rej := verifier.ReadBody(w, r)
	if rej == nil {
		if err := verifier.Verify(r, body); err != nil {
			rej = sigv4check.AsReject(err)
		}
	}
	if rej != nil {
		p.stats.reject(rej.Reason, body)
		if ok, suppressed := p.limiter.allow("reject:" + rej.Reason); ok {
			p.logger.Warn("rejected remote-write request",
				"reason", rej.Reason, "status", rej.Status, "message", rej.Message,
				"remote", r.RemoteAddr, "path", r.URL.Path, "access_key_id", accessKeyID(r),
				"suppressed_since_last_log", suppressed)
		}
		rej.WriteResponse(w)
		return
	}
	p.stats.accept()
	if p.ha != nil {
		var ok bool
		if body, ok = p.deduplicate(w, r, body); !ok {
			return
		}
	}
	p.forward(w, r, body)
}

// deduplicate applies the deduplication of HA pairs (ha.go) to a verified
// request. It returns the body to forward (the leader's without
// __replica__, a request without both labels unchanged), or answers the
// request itself and returns false: 202 to a replica that is not the
// leader, 415 or 400 to a body it cannot read.
func (p *Proxy) deduplicate(w http.ResponseWriter, r *http.Request, body []byte) ([]byte, bool) {
	refuse := func(status int, err error) ([]byte, bool) {
		p.stats.haUndecodable()
		if ok, suppressed := p.limiter.allow("ha:undecodable"); ok {
			p.logger.Warn("cannot read remote-write request for HA deduplication", "status", status, "error", err,
				"suppressed_since_last_log", suppressed)
		}
		writeJSONMessage(w, status, err.Error())
		return nil, false
	}
	if err := remotewrite.CheckHeaders(r.Header); err != nil {
		return refuse(http.StatusUnsupportedMediaType, err)
	}
	wr, err := remotewrite.Unmarshal(body)
	if err != nil {
		return refuse(http.StatusBadRequest, err)
	}
	cluster, replica := haLabels(wr)
	verdict, elected, election := p.ha.check(cluster, replica, p.now())
	p.stats.haVerdict(verdict, samplesIn(wr), election)
	if election != nil {
		p.logger.Info("HA leader elected", "cluster", election.cluster, "replica", election.replica,
			"previous", election.previous, "previous_silent_for", election.silentFor)
	}
	switch verdict {
	case haDeduplicated:
		writeJSONMessage(w, http.StatusAccepted, dedupMessage(replica, elected))
		return nil, false
	case haLeader:
		stripReplica(wr)
		if body, err = remotewrite.Marshal(wr); err != nil {
			p.upstreamError(w, fmt.Errorf("cannot encode the deduplicated request: %w", err))
			return nil, false
		}
	}
	return body, true
}

// forwardedHeaders are the request headers relayed upstream: the
// remote-write ones. Authorization and X-Amz-* stay at the stand-in, as
// they would at AMP.
var forwardedHeaders = []string{"Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version", "User-Agent"}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.upstream.String(), bytes.NewReader(body))
	if err != nil {
		p.upstreamError(w, fmt.Errorf("cannot build upstream request: %w", err))
		return
	}
	for _, h := range forwardedHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.upstreamError(w, fmt.Errorf("cannot forward to upstream: %w", err))
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamAnswer))
	if err != nil {
		p.upstreamError(w, fmt.Errorf("cannot read upstream answer: %w", err))
		return
	}
	p.stats.upstream(resp.StatusCode, len(body))
	if resp.StatusCode >= 300 {
		if ok, suppressed := p.limiter.allow(fmt.Sprintf("upstream:%d", resp.StatusCode)); ok {
			p.logger.Warn("upstream refused remote-write request", "status", resp.StatusCode,
				"answer", truncate(string(answer), 300), "suppressed_since_last_log", suppressed)
		}
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (p *Proxy) upstreamError(w http.ResponseWriter, err error) {
	p.stats.upstreamError()
	if ok, suppressed := p.limiter.allow("upstream_error"); ok {
		p.logger.Error("upstream unavailable", "error", err, "suppressed_since_last_log", suppressed)
	}
	writeJSONMessage(w, http.StatusBadGateway, "Upstream remote-write endpoint unavailable.")
}

// accessKeyID returns the access key id named by the request's
// Authorization header (not secret: it identifies the key, as AWS logs it).
func accessKeyID(r *http.Request) string {
	_, rest, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return truncate(id, 128)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func writeJSONMessage(w http.ResponseWriter, status int, msg string) {
	(&sigv4check.RejectError{Status: status, Message: msg}).WriteResponse(w)
}

// logLimiter lets each key through once per interval and counts the rest.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex
	last     map[string]logState
}

type logState struct {
	at         time.Time
	suppressed int
}

// allow reports whether key may be logged now and how many logs of key
// were suppressed since the last one allowed.
func (l *logLimiter) allow(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st, seen := l.last[key]
	if seen && now.Sub(st.at) < l.interval {
		st.suppressed++
		l.last[key] = st
		return false, 0
	}
	l.last[key] = logState{at: now}
	return true, st.suppressed
}
