package remotewrite

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

func testRequest() *prompb.WriteRequest {
	return &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "orders"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}},
	}}}
}

func mustMarshal(t *testing.T, wr *prompb.WriteRequest) []byte {
	t.Helper()
	b, err := Marshal(wr)
	if err != nil {
		t.Fatalf("cannot marshal: %v", err)
	}
	return b
}

func TestDecode(t *testing.T) {
	good := mustMarshal(t, testRequest())
	notProto := snappy.Encode(nil, []byte("\xff\xff\xff this is not protobuf"))

	f := func(name string, body []byte, edit func(http.Header), wantErr string, wantUnsupported bool) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
			SetHeaders(req.Header)
			if edit != nil {
				edit(req.Header)
			}
			wr, err := Decode(req)
			if wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(wr.Timeseries) != 1 || wr.Timeseries[0].Samples[0].Value != 1 || wr.Timeseries[0].Labels[1].Value != "orders" {
					t.Fatalf("decoded %+v, want the test request", wr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("error %v, want one containing %q", err, wantErr)
			}
			if errors.Is(err, ErrUnsupported) != wantUnsupported {
				t.Fatalf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, !wantUnsupported, wantUnsupported)
			}
		})
	}
	f("valid", good, nil, "", false)
	f("proto parameter of 1.0", good, func(h http.Header) {
		h.Set("Content-Type", "application/x-protobuf;proto=prometheus.WriteRequest")
	}, "", false)
	f("remote write 2.0", good, func(h http.Header) {
		h.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	}, `names proto "io.prometheus.write.v2.Request"`, true)
	f("json content type", good, func(h http.Header) { h.Set("Content-Type", "application/json") }, `Content-Type "application/json"`, true)
	f("gzip", good, func(h http.Header) { h.Set("Content-Encoding", "gzip") }, `Content-Encoding "gzip", want snappy`, true)
	f("no encoding", good, func(h http.Header) { h.Del("Content-Encoding") }, `Content-Encoding "", want snappy`, true)
	f("wrong version", good, func(h http.Header) { h.Set("X-Prometheus-Remote-Write-Version", "2.0.0") }, `Version "2.0.0", want 0.1.0`, true)
	f("not snappy", []byte("plain text body"), nil, "cannot snappy-decode", false)
	f("bad proto", notProto, nil, "cannot unmarshal prometheus.WriteRequest", false)
	f("huge decoded length", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, nil, "exceeds", false)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
