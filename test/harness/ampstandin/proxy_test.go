package ampstandin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/otelcol-eks/otelcol-eks/test/harness/fakeclock"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDSTANDIN", SecretAccessKey: "stand-in-secret-do-not-log"}

// upstreamCall is what the fake upstream saw.
type upstreamCall struct {
	Path   string
	Header http.Header
	Body   []byte
}

// fakeUpstream answers status and answer, recording every call.
type fakeUpstream struct {
	mu     sync.Mutex
	calls  []upstreamCall
	status int
	answer string
}

func (u *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.calls = append(u.calls, upstreamCall{Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
	status, answer := u.status, u.answer
	u.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (u *fakeUpstream) Calls() []upstreamCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamCall(nil), u.calls...)
}

type env struct {
	upstream *fakeUpstream
	up       *httptest.Server
	proxy    *Proxy
	srv      *httptest.Server
	logs     *childproc.SyncBuffer
	clock    *fakeclock.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(*Config) {})
}

// newEnvWith is newEnv with the stand-in's Config changed by configure.
func newEnvWith(t *testing.T, configure func(*Config)) *env {
	t.Helper()
	e := &env{upstream: &fakeUpstream{status: http.StatusNoContent}, logs: &childproc.SyncBuffer{},
		clock: fakeclock.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	up := httptest.NewServer(e.upstream)
	t.Cleanup(up.Close)
	e.up = up
	cfg := Config{
		Upstream: up.URL + "/api/v1/write", Credentials: testCreds, Region: "us-west-2",
		Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	configure(&cfg)
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("cannot create proxy: %v", err)
	}
	e.proxy = p
	e.srv = httptest.NewServer(p)
	t.Cleanup(e.srv.Close)
	return e
}

// post sends body to path on the stand-in, signed with creds at the fake
// clock's time (unsigned when creds has no key); it returns status and body.
func (e *env) post(t *testing.T, path string, body []byte, creds aws.Credentials) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "test-sender/1")
	if creds.AccessKeyID != "" {
		signWith(t, req, body, creds, e.clock.Now())
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("cannot post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signWith signs req, whose body is body, with creds at at for us-west-2
// and aps.
func signWith(t *testing.T, req *http.Request, body []byte, creds aws.Credentials, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), "aps", "us-west-2", at); err != nil {
		t.Fatal(err)
	}
}

func TestForward(t *testing.T) {
	e := newEnv(t)
	body := []byte("\x01\x02compressed")
	f := func(path string) {
		t.Helper()
		n := len(e.upstream.Calls())
		status, answer := e.post(t, path, body, testCreds)
		if status != http.StatusNoContent {
			t.Fatalf("%s: status %d (%s), want 204", path, status, answer)
		}
		calls := e.upstream.Calls()
		if len(calls) != n+1 {
			t.Fatalf("%s: upstream called %d times, want %d", path, len(calls), n+1)
		}
		c := calls[n]
		if c.Path != "/api/v1/write" || !bytes.Equal(c.Body, body) {
			t.Fatalf("%s: upstream got path %q body %q", path, c.Path, c.Body)
		}
		for h, want := range map[string]string{
			"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
			"X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "test-sender/1",
			"Authorization": "", "X-Amz-Date": "",
		} {
			if got := c.Header.Get(h); got != want {
				t.Fatalf("%s: upstream header %s = %q, want %q", path, h, got, want)
			}
		}
	}
	f("/workspaces/ws-0123/api/v1/remote_write")
	f("/api/v1/remote_write")
	f("/api/v1/write")
	if st := e.proxy.Stats(); st.Accepted != 3 || st.Upstream["204"] != 3 || st.RejectedTotal != 0 || st.ForwardedBytes != int64(3*len(body)) {
		t.Fatalf("stats %+v", st)
	}
}

func TestUpstreamStatusPassthrough(t *testing.T) {
	e := newEnv(t)
	f := func(status int, answer string) {
		t.Helper()
		e.upstream.mu.Lock()
		e.upstream.status, e.upstream.answer = status, answer
		e.upstream.mu.Unlock()
		got, gotAnswer := e.post(t, "/workspaces/ws/api/v1/remote_write", []byte("x"), testCreds)
		if got != status || gotAnswer != answer {
			t.Fatalf("answer %d %q, want upstream's %d %q", got, gotAnswer, status, answer)
		}
	}
	f(http.StatusBadRequest, "out of order sample\n")
	f(http.StatusInternalServerError, "tsdb unavailable\n")
	f(http.StatusTooManyRequests, "slow down\n")
	f(http.StatusOK, "")
	st := e.proxy.Stats()
	if st.Upstream["400"] != 1 || st.Upstream["500"] != 1 || st.Upstream["429"] != 1 || st.Upstream["200"] != 1 {
		t.Fatalf("upstream counters %v", st.Upstream)
	}
}

func TestReject(t *testing.T) {
	e := newEnv(t)
	wrong := testCreds
	wrong.SecretAccessKey = "wrong-secret"
	f := func(name string, creds aws.Credentials, wantReason string) {
		t.Helper()
		status, answer := e.post(t, "/workspaces/ws/api/v1/remote_write", []byte("payload"), creds)
		var msg struct{ Message string }
		if status != http.StatusForbidden || json.Unmarshal([]byte(answer), &msg) != nil || msg.Message == "" {
			t.Fatalf("%s: answer %d %q, want 403 with a JSON message", name, status, answer)
		}
		if got := e.proxy.Stats().Rejected[wantReason]; got == 0 {
			t.Fatalf("%s: no rejection counted for %s: %v", name, wantReason, e.proxy.Stats().Rejected)
		}
	}
	f("wrong secret", wrong, "signature_mismatch")
	f("wrong secret again", wrong, "signature_mismatch")
	f("wrong secret a third time", wrong, "signature_mismatch")
	f("unsigned", aws.Credentials{}, "missing_signature")
	if n := len(e.upstream.Calls()); n != 0 {
		t.Fatalf("upstream called %d times for refused requests", n)
	}

	// Logged once per reason per interval, with the suppressed count after.
	logs := e.logs.String()
	if n := strings.Count(logs, "reason=signature_mismatch"); n != 1 {
		t.Fatalf("signature_mismatch logged %d times, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "reason=missing_signature"); n != 1 {
		t.Fatalf("missing_signature logged %d times, want 1:\n%s", n, logs)
	}
	e.clock.Add(DefaultLogInterval + time.Second)
	f("wrong secret after the interval", wrong, "signature_mismatch")
	logs = e.logs.String()
	if n := strings.Count(logs, "reason=signature_mismatch"); n != 2 || !strings.Contains(logs, "suppressed_since_last_log=2") {
		t.Fatalf("want a second log with 2 suppressed:\n%s", logs)
	}
	if strings.Contains(logs, testCreds.SecretAccessKey) || strings.Contains(logs, wrong.SecretAccessKey) {
		t.Fatalf("a secret reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, "access_key_id="+testCreds.AccessKeyID) {
		t.Fatalf("log does not name the access key id:\n%s", logs)
	}
	// The same body every time.
	if st := e.proxy.Stats(); st.RejectedTotal != 5 || st.MostRejectionsOfOneRequest != 5 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUpstreamDown(t *testing.T) {
	e := newEnv(t)
	e.up.Close()
	status, answer := e.post(t, "/api/v1/write", []byte("x"), testCreds)
	if status != http.StatusBadGateway || !strings.Contains(answer, "unavailable") {
		t.Fatalf("answer %d %q, want 502", status, answer)
	}
	if st := e.proxy.Stats(); st.UpstreamErrors != 1 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "upstream unavailable") {
		t.Fatalf("upstream failure not logged:\n%s", logs)
	}
}

func TestEndpoints(t *testing.T) {
	e := newEnv(t)
	get := func(path string) (int, string) {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	e.post(t, "/api/v1/write", []byte("x"), testCreds)
	e.post(t, "/api/v1/write", []byte("x"), aws.Credentials{})
	f := func(path string, wantStatus int, wantParts ...string) {
		t.Helper()
		status, body := get(path)
		if status != wantStatus {
			t.Fatalf("GET %s: %d, want %d", path, status, wantStatus)
		}
		for _, p := range wantParts {
			if !strings.Contains(body, p) {
				t.Fatalf("GET %s: body lacks %q:\n%s", path, p, body)
			}
		}
	}
	f("/stats", http.StatusOK, `"accepted": 1`, `"missing_signature": 1`, `"204": 1`, `"rejected_total": 1`)
	f("/metrics", http.StatusOK, "amp_standin_accepted_requests_total 1\n",
		`amp_standin_rejected_requests_total{reason="missing_signature"} 1`,
		`amp_standin_upstream_responses_total{code="204"} 1`)
	f("/-/ready", http.StatusOK)
	f("/api/v1/write", http.StatusMethodNotAllowed)
	f("/api/v1/query", http.StatusNotFound, "Not Found")
}

func TestNewValidates(t *testing.T) {
	good := Config{Upstream: "http://127.0.0.1:9090/api/v1/write", Credentials: testCreds, Region: "us-west-2"}
	f := func(edit func(*Config), wantErr string) {
		t.Helper()
		cfg := good
		edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("New gave %v, want an error containing %q", err, wantErr)
		}
	}
	f(func(c *Config) { c.Upstream = "" }, "upstream URL is required")
	f(func(c *Config) { c.Upstream = "127.0.0.1:9090" }, "is not an http(s) URL")
	f(func(c *Config) { c.Credentials.SecretAccessKey = "" }, "secret access key are required")
	f(func(c *Config) { c.Region = "" }, "region is required")
	f(func(c *Config) { c.HA = HAConfig{Enabled: true, FailoverTimeout: -time.Second} }, "HA failover timeout -1s is negative")
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
}

func TestSetCredentials(t *testing.T) {
	e := newEnv(t)
	next := aws.Credentials{AccessKeyID: "AKIDSTANDINNEXT", SecretAccessKey: "stand-in-next-secret"}
	f := func(name string, creds aws.Credentials, want int) {
		t.Helper()
		if status, answer := e.post(t, "/workspaces/ws/api/v1/remote_write", []byte("payload"), creds); status != want {
			t.Fatalf("%s: answer %d %q, want %d", name, status, answer, want)
		}
	}
	f("a key the workspace does not know yet", next, http.StatusForbidden)
	if err := e.proxy.SetCredentials(next); err != nil {
		t.Fatal(err)
	}
	f("the same key once accepted", next, http.StatusNoContent)
	f("the key accepted before", testCreds, http.StatusForbidden)
	if err := e.proxy.SetCredentials(aws.Credentials{AccessKeyID: "AKIDONLY"}); err == nil {
		t.Fatal("credentials without a secret accepted")
	}
	if st := e.proxy.Stats(); st.Rejected["unknown_access_key"] != 2 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxSkew(t *testing.T) {
	var lag atomic.Int64 // how far the stand-in's clock is ahead of the signer's
	e := newEnvWith(t, func(cfg *Config) {
		now := cfg.Now
		cfg.MaxSkew = 15 * time.Second
		cfg.Now = func() time.Time { return now().Add(time.Duration(lag.Load())) }
	})
	f := func(d time.Duration, want int) {
		t.Helper()
		lag.Store(int64(d))
		if status, answer := e.post(t, "/workspaces/ws/api/v1/remote_write", []byte("payload"), testCreds); status != want {
			t.Fatalf("signed %s ago: answer %d %q, want %d", d, status, answer, want)
		}
	}
	f(14*time.Second, http.StatusNoContent)
	f(16*time.Second, http.StatusForbidden)
	if st := e.proxy.Stats(); st.Rejected["stale_date"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}
