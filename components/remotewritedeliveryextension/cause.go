package remotewritedeliveryextension

import (
	"net/http"
	"strconv"
	"strings"
)

// cause is why the backend refused a request: the status and a reason read
// from its message. Log lines are rate-limited per cause.
type cause struct {
	code   int
	reason string
}

func (c cause) key() string { return strconv.Itoa(c.code) + "/" + c.reason }

// badRequestReasons map phrases of Prometheus', Cortex's and AMP's 400
// messages to a reason, first match wins.
var badRequestReasons = []struct {
	reason  string
	phrases []string
}{
	{"out_of_order", []string{"out of order", "out-of-order"}},
	{"duplicate_sample", []string{"duplicate sample", "duplicate timestamp", "duplicate"}},
	{"too_old", []string{"too old", "out of bounds", "too far in the past"}},
	{"invalid_labels", []string{"label", "metric name"}},
}

// classify names the cause of a refusal with status code and backend
// message.
func classify(code int, message string) cause {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return cause{code, "credentials"}
	case http.StatusRequestEntityTooLarge:
		return cause{code, "too_large"}
	case http.StatusBadRequest:
		m := strings.ToLower(message)
		for _, r := range badRequestReasons {
			for _, phrase := range r.phrases {
				if strings.Contains(m, phrase) {
					return cause{code, r.reason}
				}
			}
		}
		return cause{code, "bad_request"}
	default:
		return cause{code, "rejected"}
	}
}
