package remotewritedeliveryextension

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// capturedRequest is a remote-write request as the exporter built it,
// before signing: what is kept on disk and sent back, byte for byte.
type capturedRequest struct {
	// url is the absolute request URL.
	url string
	// host is the Host header when it differs from the URL's host (the
	// exporter's `headers: {Host: ...}`), else "".
	host string
	// header holds every header of the request: Content-Type,
	// Content-Encoding, X-Prometheus-Remote-Write-Version, User-Agent and
	// any configured in the exporter's `headers`.
	header http.Header
	// body is the snappy-compressed protobuf, untouched.
	body []byte
}

// requestFormatVersion is the first byte of every encoded request, so that
// a later format can tell a queue left by this one.
const requestFormatVersion = 1

// appendRequestMeta appends to dst the encoding of everything of the request
// but its body, which follows it to the end of the record:
//
//	version byte, url, host, header count, then name and value per header
//	value; each string as a uvarint length and its bytes.
func appendRequestMeta(dst []byte, url, host string, header http.Header) []byte {
	dst = append(dst, requestFormatVersion)
	dst = appendString(dst, url)
	dst = appendString(dst, host)
	n := 0
	for _, values := range header {
		n += len(values)
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for name, values := range header {
		for _, v := range values {
			dst = appendString(dst, name)
			dst = appendString(dst, v)
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errBadRequestRecord = errors.New("not a captured remote-write request")

// decodeRequest decodes a record written by appendRequestMeta and the body.
// The body aliases data. It never panics on arbitrary bytes: the queue's
// checksum makes damage unlikely, and a record of another format version
// must fail cleanly.
func decodeRequest(data []byte) (capturedRequest, error) {
	var r capturedRequest
	if len(data) == 0 || data[0] != requestFormatVersion {
		return r, fmt.Errorf("%w: unknown format version", errBadRequestRecord)
	}
	rest := data[1:]
	var ok bool
	if r.url, rest, ok = readString(rest); !ok {
		return r, fmt.Errorf("%w: bad url", errBadRequestRecord)
	}
	if r.host, rest, ok = readString(rest); !ok {
		return r, fmt.Errorf("%w: bad host", errBadRequestRecord)
	}
	n, size := binary.Uvarint(rest)
	// Each header takes at least two bytes: a count beyond that is damage.
	if size <= 0 || n > uint64(len(rest)/2) {
		return r, fmt.Errorf("%w: bad header count", errBadRequestRecord)
	}
	rest = rest[size:]
	r.header = make(http.Header, n)
	for range n {
		var name, value string
		if name, rest, ok = readString(rest); !ok {
			return r, fmt.Errorf("%w: bad header name", errBadRequestRecord)
		}
		if value, rest, ok = readString(rest); !ok {
			return r, fmt.Errorf("%w: bad header value", errBadRequestRecord)
		}
		// The names were canonical when captured; appending as is keeps
		// them so without re-canonicalising each one.
		r.header[name] = append(r.header[name], value)
	}
	r.body = rest
	return r, nil
}

func readString(b []byte) (s string, rest []byte, ok bool) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) {
		return "", b, false
	}
	end := size + int(n)
	return string(b[size:end]), b[end:], true
}
