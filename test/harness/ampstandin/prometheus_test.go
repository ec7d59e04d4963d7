package ampstandin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-eks/otelcol-eks/test/harness/remotewrite"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/promserver"
)

// TestRealPrometheus puts the stand-in in front of a real Prometheus: a
// signed write becomes queryable, a write signed with the wrong secret is
// refused and never reaches Prometheus.
func TestRealPrometheus(t *testing.T) {
	prom := promserver.StartForTest(t, promserver.Options{})
	p, err := New(Config{Upstream: prom.RemoteWriteURL(), Credentials: testCreds, Region: "us-west-2",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	standin := httptest.NewServer(p)
	defer standin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	write := func(product string, v float64, creds aws.Credentials) int {
		t.Helper()
		body, err := remotewrite.Marshal(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
			Labels:  []prompb.Label{{Name: "__name__", Value: "watch_orders_total"}, {Name: "productId", Value: product}},
			Samples: []prompb.Sample{{Value: v, Timestamp: time.Now().UnixMilli()}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, standin.URL+"/workspaces/ws-local/api/v1/remote_write", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		remotewrite.SetHeaders(req.Header)
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "aps", "us-west-2", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := standin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	wrong := testCreds
	wrong.SecretAccessKey = "wrong"
	if got := write("bad", 1, wrong); got != http.StatusForbidden {
		t.Fatalf("wrongly signed write answered %d, want 403", got)
	}
	if got := write("42", 3, testCreds); got != http.StatusNoContent {
		t.Fatalf("signed write answered %d, want Prometheus' 204", got)
	}
	vec, err := prom.WaitForQuery(ctx, `sum by(productId)(watch_orders_total)`, 0, func(v model.Vector) bool { return len(v) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if len(vec) != 1 || vec[0].Metric["productId"] != "42" || vec[0].Value != 3 {
		t.Fatalf("Prometheus has %v, want only productId=42 with 3", vec)
	}
	if st := p.Stats(); st.Accepted != 1 || st.Rejected["signature_mismatch"] != 1 || st.Upstream["204"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}
