package remotewritedeliveryextension

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// verdict is what the sender does after an attempt.
type verdict int

const (
	// delivered: the backend accepted the request (2xx).
	delivered verdict = iota
	// retry: no answer, 5xx or 408; the whole queue waits its backoff
	// (queuePause), then retries.
	retry
	// throttled: 429; the whole queue waits its backoff or Retry-After
	// (queuePause), then retries.
	throttled
	// retryCredentials: 401 or 403; the whole queue waits
	// retry::credentials_interval (queuePause), then retries.
	retryCredentials
	// drop: any other answer; the request is dropped.
	drop
)

// firm reports whether the pause after this verdict outlasts a 2xx
// (queuePause): the backend asked for it.
func (v verdict) firm() bool { return v == throttled || v == retryCredentials }

// judge returns the verdict on an answer with status code: the answer
// policy, which the README's table ("What happens to a request") states
// and explains for users.
func judge(code int) verdict {
	switch {
	case code >= 200 && code < 300:
		return delivered
	case code >= 500, code == http.StatusRequestTimeout:
		return retry
	case code == http.StatusTooManyRequests:
		return throttled
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return retryCredentials
	default:
		return drop
	}
}

// retryReason is the reason attribute of a retried attempt.
func retryReason(code int) string {
	switch {
	case code == 0:
		return "connection"
	case code == http.StatusTooManyRequests:
		return "throttled"
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return "credentials"
	default:
		return "server_error"
	}
}

// maxRetryAfter caps how long a Retry-After answer may hold the queue: a
// backend asking for more is asked again after this long.
const maxRetryAfter = 5 * time.Minute

// retryAfter reads a Retry-After header (delay in seconds or an HTTP date)
// relative to now; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

const (
	// messageBytes is how much of a refusal's body is read and logged:
	// enough for AMP's message (upstream's exporter reads as much).
	messageBytes = 1024
	// drainBytes bounds what is read after the message so that the
	// connection can be reused; a longer body closes the connection.
	drainBytes = 64 << 10
)

// readMessage returns the start of body as valid UTF-8 without surrounding
// space, then drains a bounded rest and closes body.
func readMessage(body io.ReadCloser) string {
	defer body.Close()
	buf, _ := io.ReadAll(io.LimitReader(body, messageBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainBytes))
	return strings.TrimSpace(strings.ToValidUTF8(string(buf), "\uFFFD"))
}

// redact removes the session token from a backend message: AWS echoes the
// canonical request, signed headers included, when a signature does not
// match.
func redact(message, token string) string {
	if token == "" {
		return message
	}
	return strings.ReplaceAll(message, token, "[redacted session token]")
}

// endpoint is a URL without user information or query, for logs.
func endpoint(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}
