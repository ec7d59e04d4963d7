package sigv4check

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/sigv4authextension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

// TestCollectorSigner checks that the verifier accepts exactly what the
// collector's own sigv4auth extension sends, and refuses it when the
// collector holds another secret.
func TestCollectorSigner(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", testCreds.AccessKeyID)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "no-credentials"))

	f := func(name, collectorSecret, collectorToken, acceptedToken string, wantStatus int) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", collectorSecret)
			t.Setenv("AWS_SESSION_TOKEN", collectorToken)
			client := collectorClient(t)
			accepted := testCreds
			accepted.SessionToken = acceptedToken
			v := &Verifier{Credentials: accepted, Region: "us-west-2", Service: "aps"}
			srv, calls, lastBody := serve(t, v)

			body := []byte("\x00\x01 remote write body")
			resp, err := client.Do(remoteWriteRequest(t, srv.URL+"/workspaces/ws-1/api/v1/remote_write", body))
			if err != nil {
				t.Fatalf("cannot send: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, wantStatus)
			}
			wantCalls := int64(0)
			if wantStatus == http.StatusNoContent {
				wantCalls = 1
				if got, _ := lastBody.Load().([]byte); !bytes.Equal(got, body) {
					t.Fatalf("wrapped handler saw body %q, want %q", got, body)
				}
			}
			if calls.Load() != wantCalls {
				t.Fatalf("wrapped handler called %d times, want %d", calls.Load(), wantCalls)
			}
		})
	}
	f("right secret", testCreds.SecretAccessKey, "", "", http.StatusNoContent)
	f("wrong secret", "a-wrong-secret", "", "", http.StatusForbidden)
	f("right session token", testCreds.SecretAccessKey, "token-1", "token-1", http.StatusNoContent)
	f("wrong session token", testCreds.SecretAccessKey, "token-2", "token-1", http.StatusForbidden)
}

// collectorClient builds an HTTP client whose transport is the sigv4auth
// extension's signing round tripper, created through its factory exactly
// as the collector does, with credentials from the environment.
func collectorClient(t *testing.T) *http.Client {
	t.Helper()
	fact := sigv4authextension.NewFactory()
	cfg := fact.CreateDefaultConfig().(*sigv4authextension.Config)
	cfg.Region = "us-west-2"
	cfg.Service = "aps"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("cannot validate sigv4auth config: %v", err)
	}
	ext, err := fact.Create(context.Background(), extensiontest.NewNopSettings(fact.Type()), cfg)
	if err != nil {
		t.Fatalf("cannot create sigv4auth extension: %v", err)
	}
	auth, ok := ext.(extensionauth.HTTPClient)
	if !ok {
		t.Fatalf("sigv4auth extension %T is not an HTTP client authenticator", ext)
	}
	rt, err := auth.RoundTripper(http.DefaultTransport)
	if err != nil {
		t.Fatalf("cannot build signing round tripper: %v", err)
	}
	return &http.Client{Transport: rt}
}
