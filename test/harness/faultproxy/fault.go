package faultproxy

import (
	"fmt"
	"net/http"
	"time"
)

// Kind is what the proxy does with the requests it receives.
type Kind int

const (
	// KindPass forwards every request to the upstream.
	KindPass Kind = iota
	// KindRefuse closes the listening socket and every open connection:
	// new connections are refused by the kernel.
	KindRefuse
	// KindStatus answers every request with Fault.Status without
	// forwarding it.
	KindStatus
	// KindDelay waits Fault.Delay, then forwards.
	KindDelay
)

// Fault is the behaviour the proxy applies to every request from the moment
// it is Set. Build one with Pass, Refuse, Status, TooManyRequests or Delay.
type Fault struct {
	Kind Kind
	// Status is the answer of KindStatus.
	Status int
	// RetryAfter, if set, is sent as the Retry-After header (whole seconds)
	// with KindStatus answers.
	RetryAfter time.Duration
	// Delay is KindDelay's wait before forwarding.
	Delay time.Duration
}

// Pass forwards every request.
func Pass() Fault { return Fault{Kind: KindPass} }

// Refuse refuses every connection.
func Refuse() Fault { return Fault{Kind: KindRefuse} }

// Status answers every request with code and a short body naming it.
func Status(code int) Fault { return Fault{Kind: KindStatus, Status: code} }

// TooManyRequests answers 429 with a Retry-After of retryAfter.
func TooManyRequests(retryAfter time.Duration) Fault {
	return Fault{Kind: KindStatus, Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// Delay forwards every request after d.
func Delay(d time.Duration) Fault { return Fault{Kind: KindDelay, Delay: d} }

// String names the fault for logs, e.g. "status 429 (Retry-After 2s)".
func (f Fault) String() string {
	switch f.Kind {
	case KindPass:
		return "pass"
	case KindRefuse:
		return "refuse connections"
	case KindStatus:
		if f.RetryAfter > 0 {
			return fmt.Sprintf("status %d (Retry-After %s)", f.Status, f.RetryAfter)
		}
		return fmt.Sprintf("status %d", f.Status)
	case KindDelay:
		return fmt.Sprintf("delay %s", f.Delay)
	default:
		return fmt.Sprintf("unknown fault %d", int(f.Kind))
	}
}
