package sigv4check

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	testCreds = aws.Credentials{AccessKeyID: "AKIDSTANDINTEST", SecretAccessKey: "standin-secret-key"}
	testNow   = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signSpec says how the client signs; zero fields take the verifier's values.
type signSpec struct {
	creds   aws.Credentials
	region  string
	service string
	at      time.Time
	body    []byte // body the signature covers; nil means the body sent
	noAuth  bool
	before  func(*http.Request) // changes made before signing
	after   func(*http.Request) // changes made after signing, before sending
}

// serve runs v.Handler on a loopback server and returns it with a counter
// of calls that reached the wrapped handler and the last body it saw.
func serve(t *testing.T, v *Verifier) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	t.Helper()
	var calls atomic.Int64
	var lastBody atomic.Value
	srv := httptest.NewServer(v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("cannot read restored body: %v", err)
		}
		lastBody.Store(b)
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	return srv, &calls, &lastBody
}

// remoteWriteRequest builds an unsigned POST carrying the headers the
// prometheusremotewrite exporter sets.
func remoteWriteRequest(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("cannot build request: %v", err)
	}
	req.Header.Add("Content-Encoding", "snappy")
	req.Header.Set("User-Agent", "OpenTelemetry Collector Contrib/0.165.1 (linux/amd64)")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	return req
}

// send builds a remote-write-like request, signs it per spec with the SDK
// signer and sends it; it returns the response status, error type and body.
func send(t *testing.T, srv *httptest.Server, body []byte, spec signSpec) (int, string, string) {
	t.Helper()
	req := remoteWriteRequest(t, srv.URL+"/workspaces/ws-1234/api/v1/remote_write?x=1", body)
	if spec.before != nil {
		spec.before(req)
	}
	if !spec.noAuth {
		signed := spec.body
		if signed == nil {
			signed = body
		}
		if err := v4.NewSigner().SignHTTP(req.Context(), spec.creds, req, hashHex(signed), spec.service, spec.region, spec.at); err != nil {
			t.Fatalf("cannot sign: %v", err)
		}
	}
	if spec.after != nil {
		spec.after(req)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("cannot send: %v", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("cannot read response: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(rb)
}

func TestHandler(t *testing.T) {
	body := []byte("\xff\x01snappy-compressed-remote-write-payload")
	good := func() signSpec {
		return signSpec{creds: testCreds, region: "us-west-2", service: "aps", at: testNow}
	}
	f := func(name string, v *Verifier, spec signSpec, wantReason string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			if v == nil {
				v = &Verifier{Credentials: testCreds, Region: "us-west-2", Service: "aps", Now: func() time.Time { return testNow }}
			}
			v := *v
			var reasons []string
			var mu sync.Mutex
			v.OnReject = func(_ *http.Request, rej *RejectError) {
				mu.Lock()
				defer mu.Unlock()
				reasons = append(reasons, rej.Reason)
			}
			srv, calls, lastBody := serve(t, &v)
			status, errType, respBody := send(t, srv, body, spec)
			mu.Lock()
			got := strings.Join(reasons, ",")
			mu.Unlock()
			if got != wantReason {
				t.Fatalf("rejection reasons %q, want %q (response %d %q)", got, wantReason, status, respBody)
			}
			if wantReason == "" {
				if status != http.StatusNoContent || calls.Load() != 1 {
					t.Fatalf("want the request passed on (204, 1 call); got %d, %d calls, body %q", status, calls.Load(), respBody)
				}
				if got, _ := lastBody.Load().([]byte); !bytes.Equal(got, body) {
					t.Fatalf("wrapped handler saw body %q, want %q", got, body)
				}
				return
			}
			if status != http.StatusForbidden || calls.Load() != 0 {
				t.Fatalf("want 403 and no call to the wrapped handler; got %d, %d calls", status, calls.Load())
			}
			var msg struct{ Message string }
			if err := json.Unmarshal([]byte(respBody), &msg); err != nil || msg.Message == "" {
				t.Fatalf("want a JSON body with a message; got %q (%v)", respBody, err)
			}
			if errType == "" {
				t.Fatalf("want an x-amzn-ErrorType header")
			}
			if strings.Contains(respBody, v.Credentials.SecretAccessKey) {
				t.Fatalf("response leaks the secret: %q", respBody)
			}
		})
	}

	f("signed by the SDK", nil, good(), "")
	f("unsigned headers added after signing", nil, func() signSpec {
		s := good()
		s.after = func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip"); r.Header.Set("User-Agent", "changed") }
		return s
	}(), "")
	f("signed content sha header that matches", nil, func() signSpec {
		s := good()
		s.before = func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex(body)) }
		return s
	}(), "")
	f("missing authorization", nil, signSpec{noAuth: true}, ReasonMissingSignature)
	f("wrong secret", nil, func() signSpec {
		s := good()
		s.creds.SecretAccessKey = "not-the-secret"
		return s
	}(), ReasonSignatureMismatch)
	f("wrong access key", nil, func() signSpec {
		s := good()
		s.creds.AccessKeyID = "AKIDSOMEONEELSE"
		return s
	}(), ReasonUnknownAccessKey)
	f("wrong region", nil, func() signSpec { s := good(); s.region = "eu-west-1"; return s }(), ReasonWrongRegion)
	f("wrong service", nil, func() signSpec { s := good(); s.service = "execute-api"; return s }(), ReasonWrongService)
	f("altered body", nil, func() signSpec { s := good(); s.body = []byte("another body"); return s }(), ReasonSignatureMismatch)
	f("altered body with content sha", nil, func() signSpec {
		s := good()
		s.body = []byte("another body")
		s.after = func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("another body"))) }
		return s
	}(), ReasonPayloadHashMismatch)
	f("signed header altered", nil, func() signSpec {
		s := good()
		s.after = func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }
		return s
	}(), ReasonSignatureMismatch)
	f("stale date", nil, func() signSpec { s := good(); s.at = testNow.Add(-6 * time.Minute); return s }(), ReasonStaleDate)
	f("future date", nil, func() signSpec { s := good(); s.at = testNow.Add(6 * time.Minute); return s }(), ReasonStaleDate)
	f("date within skew", nil, func() signSpec { s := good(); s.at = testNow.Add(-4 * time.Minute); return s }(), "")
	f("malformed authorization", nil, func() signSpec {
		s := good()
		s.after = func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDSTANDINTEST/20260314/us-west-2/aps/aws4_request")
		}
		return s
	}(), ReasonMalformedSignature)

	tokenCreds := testCreds
	tokenCreds.SessionToken = "session-token-1"
	withToken := &Verifier{Credentials: tokenCreds, Region: "us-west-2", Service: "aps", Now: func() time.Time { return testNow }}
	f("session token", withToken, func() signSpec { s := good(); s.creds = tokenCreds; return s }(), "")
	f("session token missing", withToken, good(), ReasonInvalidSecurityToken)
}
