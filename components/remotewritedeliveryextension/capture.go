package remotewritedeliveryextension

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/diskqueue"
)

// capture is the round tripper the exporter's HTTP client ends in (it is
// what the extension returns as the exporter's authenticator): it appends
// every request, unsigned and untouched, to the queue and answers 204 once
// it is there. It never waits for the backend, so a backend outage never
// holds the pipeline back.
//
// When the request cannot be queued (a full disk, a request larger than
// half of max_size_mib) it is dropped, counted and logged, and still
// answered 204: the exporter's retries would only hold the pipeline for
// the same result. It is safe for concurrent use.
type capture struct {
	queue *diskqueue.Queue
	rep   *reporter
	// buffers recycles the encoding buffers: a request is up to a few
	// hundred KiB compressed, several per second.
	buffers sync.Pool
}

func newCapture(queue *diskqueue.Queue, rep *reporter) *capture {
	return &capture{queue: queue, rep: rep, buffers: sync.Pool{New: func() any { return new([]byte) }}}
}

// RoundTrip queues req and answers 204 No Content. It returns an error only
// when the extension is shut down or req's body cannot be read.
func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	buf := c.buffers.Get().(*[]byte)
	defer c.buffers.Put(buf)

	host := req.Host
	if host == req.URL.Host {
		host = ""
	}
	record := appendRequestMeta((*buf)[:0], req.URL.String(), host, req.Header)
	metaLen := len(record)
	record, err := appendBody(record, req)
	*buf = record
	if err != nil {
		return nil, fmt.Errorf("cannot read the remote-write request's body: %w", err)
	}
	bodyBytes := int64(len(record) - metaLen)

	start := time.Now()
	err = c.queue.Append(record)
	c.rep.tel.RemoteWriteQueueWriteDuration.Record(ctx, time.Since(start).Seconds())
	switch {
	case err == nil:
		return answer(req, "queued by remote_write_delivery"), nil
	case errors.Is(err, diskqueue.ErrClosed):
		return nil, errors.New("remote_write_delivery is shut down")
	case errors.Is(err, diskqueue.ErrTooLarge):
		c.rep.dropped(ctx, "too_large", 1, bodyBytes,
			"remote-write request larger than half of max_size_mib: dropped unqueued; raise max_size_mib or lower the exporter's max_batch_size_bytes",
			zap.Int64("request_bytes", bodyBytes))
	case errors.Is(err, syscall.ENOSPC):
		c.rep.dropped(ctx, reasonDiskFull, 1, bodyBytes,
			"the queue's volume is full: remote-write request dropped unqueued; give the volume more room or lower max_size_mib below it",
			zap.Error(err), zap.Int64("request_bytes", bodyBytes))
	default:
		c.rep.dropped(ctx, reasonDiskError, 1, bodyBytes,
			"cannot write the queue: remote-write request dropped unqueued", zap.Error(err), zap.Int64("request_bytes", bodyBytes))
	}
	return answer(req, "dropped by remote_write_delivery: see its log"), nil
}

// appendBody appends the whole body of req to dst and closes it.
func appendBody(dst []byte, req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return dst, nil
	}
	defer req.Body.Close()
	if req.ContentLength > 0 {
		// One byte more than the body, so that the read finding EOF does
		// not grow the buffer.
		dst = growTo(dst, len(dst)+int(req.ContentLength)+1)
	}
	for {
		if len(dst) == cap(dst) {
			dst = growTo(dst, 2*cap(dst)+512)
		}
		n, err := req.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// growTo returns b with a capacity of at least n, its contents kept.
func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b
	}
	grown := make([]byte, len(b), n)
	copy(grown, b)
	return grown
}

// answer is the exporter's answer: 204, with what happened in the status
// text (visible in the exporter's debug log).
func answer(req *http.Request, what string) *http.Response {
	return &http.Response{
		Status:     fmt.Sprintf("%d %s (%s)", http.StatusNoContent, http.StatusText(http.StatusNoContent), what),
		StatusCode: http.StatusNoContent,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{},
		Body:    http.NoBody,
		Request: req,
	}
}
