package remotewritedeliveryextension

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestRoundTrip: what appendRequestMeta and the body encode,
// decodeRequest gives back.
func TestRequestRoundTrip(t *testing.T) {
	f := func(url, host string, header http.Header, body []byte) {
		t.Helper()
		record := append(appendRequestMeta(nil, url, host, header), body...)
		got, err := decodeRequest(record)
		require.NoError(t, err)
		require.Equal(t, url, got.url)
		require.Equal(t, host, got.host)
		require.Equal(t, len(header), len(got.header))
		for name, values := range header {
			require.Equal(t, values, got.header[name], name)
		}
		require.Equal(t, string(body), string(got.body))
	}
	f("https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write", "",
		http.Header{
			"Content-Encoding":                  {"snappy"},
			"Content-Type":                      {"application/x-protobuf"},
			"X-Prometheus-Remote-Write-Version": {"0.1.0"},
			"User-Agent":                        {"otelcol-eks/1.0"},
		}, []byte("\xff\x06\x00\x00sNaPpY body"))
	f("http://127.0.0.1:9090/api/v1/write", "amp.internal", http.Header{"X-Scope-Orgid": {"a", "b"}}, nil)
	f("", "", http.Header{}, []byte{})
}

// TestDecodeRequestRejectsDamage: truncations and another version fail
// cleanly.
func TestDecodeRequestRejectsDamage(t *testing.T) {
	record := appendRequestMeta(nil, "http://127.0.0.1/api/v1/write", "", http.Header{"Content-Type": {"application/x-protobuf"}})
	for n := range len(record) - 1 {
		_, err := decodeRequest(record[:n])
		require.ErrorIs(t, err, errBadRequestRecord, "cut at %d", n)
	}
	other := append([]byte{requestFormatVersion + 1}, record[1:]...)
	_, err := decodeRequest(other)
	require.ErrorContains(t, err, "unknown format version")
}

// FuzzDecodeRequest: arbitrary records never panic, and what decodes
// survives encoding and decoding again unchanged.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(append(appendRequestMeta(nil, "http://127.0.0.1/api/v1/write", "h", http.Header{"A": {"1", "2"}}), "body"...))
	f.Add([]byte{requestFormatVersion, 0, 0, 0})
	f.Add([]byte{requestFormatVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRequest(data)
		if err != nil {
			return
		}
		again, err := decodeRequest(append(appendRequestMeta(nil, r.url, r.host, r.header), r.body...))
		require.NoError(t, err)
		require.Equal(t, r, again)
	})
}
