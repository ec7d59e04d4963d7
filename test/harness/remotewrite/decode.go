package remotewrite

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

const (
	// Version is the only X-Prometheus-Remote-Write-Version accepted.
	Version = "0.1.0"
	// MaxDecodedBytes bounds the uncompressed size of one request so a
	// corrupt length prefix cannot make the decoder allocate gigabytes.
	MaxDecodedBytes = 256 << 20
	// MaxWireBytes bounds the compressed body Decode reads.
	MaxWireBytes = 64 << 20
)

// ErrUnsupported marks requests whose headers say they are not
// remote-write 1.0 (wrong Content-Type, encoding or version); a receiver
// answers them with 415 or 400 and the sender must not retry.
var ErrUnsupported = errors.New("unsupported remote-write request")

// Decode reads one remote-write 1.0 request: it checks the headers
// (CheckHeaders), reads the body (at most MaxWireBytes), snappy-decodes it
// and unmarshals a prompb.WriteRequest. r.Body is consumed and closed.
func Decode(r *http.Request) (*prompb.WriteRequest, error) {
	if err := CheckHeaders(r.Header); err != nil {
		return nil, err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWireBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read remote-write body: %w", err)
	}
	if len(body) > MaxWireBytes {
		return nil, fmt.Errorf("cannot read remote-write body: larger than %d bytes", MaxWireBytes)
	}
	return Unmarshal(body)
}

// CheckHeaders checks the headers the remote-write 1.0 specification
// requires: Content-Type application/x-protobuf (a proto parameter, if
// any, must name prometheus.WriteRequest), Content-Encoding snappy and
// X-Prometheus-Remote-Write-Version 0.1.0. Errors wrap ErrUnsupported.
func CheckHeaders(h http.Header) error {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-protobuf" {
		return fmt.Errorf("%w: Content-Type %q, want application/x-protobuf", ErrUnsupported, ct)
	}
	if p, ok := params["proto"]; ok && p != "prometheus.WriteRequest" {
		return fmt.Errorf("%w: Content-Type names proto %q, want prometheus.WriteRequest (remote-write 1.0)", ErrUnsupported, p)
	}
	if ce := h.Get("Content-Encoding"); ce != "snappy" {
		return fmt.Errorf("%w: Content-Encoding %q, want snappy", ErrUnsupported, ce)
	}
	if v := h.Get("X-Prometheus-Remote-Write-Version"); v != Version {
		return fmt.Errorf("%w: X-Prometheus-Remote-Write-Version %q, want %s", ErrUnsupported, v, Version)
	}
	return nil
}

// Unmarshal snappy-decodes (block format, as remote-write uses) and
// unmarshals one compressed remote-write body.
func Unmarshal(compressed []byte) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(compressed)
	if err != nil {
		return nil, fmt.Errorf("cannot snappy-decode remote-write body: %w", err)
	}
	if n > MaxDecodedBytes {
		return nil, fmt.Errorf("cannot snappy-decode remote-write body: decoded length %d exceeds %d", n, MaxDecodedBytes)
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return nil, fmt.Errorf("cannot snappy-decode remote-write body: %w", err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("cannot unmarshal prometheus.WriteRequest: %w", err)
	}
	return &wr, nil
}

// Marshal is Unmarshal's inverse: it encodes wr as a remote-write body.
// Tests and load generators use it to build requests.
func Marshal(wr *prompb.WriteRequest) ([]byte, error) {
	raw, err := wr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cannot marshal prometheus.WriteRequest: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

// SetHeaders sets the headers a remote-write 1.0 sender sends.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("Content-Encoding", "snappy")
	h.Set("X-Prometheus-Remote-Write-Version", Version)
}
