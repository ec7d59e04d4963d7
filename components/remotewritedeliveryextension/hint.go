package remotewritedeliveryextension

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/golang/snappy"
)

// hint says what to check for cause c of the backend's answer to a request
// whose body is body; sent is the request as sent (signed). Options and
// values it names come from the configuration and the code that applies
// them; TestMessagesNameRealOptions and TestStatedDefaultsMatch
// (options_test.go) check every option and default they name against the
// Config.
func (s *sender) hint(c cause, sent *http.Request, body []byte) string {
	switch c.reason {
	case "credentials":
		return credentialsHint(sent, s.env)
	case "too_large":
		size := fmt.Sprintf("the request was %d bytes as sent", len(body))
		if d, err := snappy.DecodedLen(body); err == nil {
			size += fmt.Sprintf(", %d decoded", d)
		}
		return size + ": lower the exporter's max_batch_size_bytes (it bounds the decoded size of each request; AMP refuses requests above its size limit)"
	case "out_of_order":
		return outOfOrderHint(s.cfg.MaxInFlight)
	case "duplicate_sample":
		return "two different values for one series and timestamp: two collectors (or replicas) scrape the same target with the same labels; tell them apart with external_labels or scrape each target once"
	case "too_old":
		return "samples older than the backend accepts, for example delivered long after an outage"
	case "invalid_labels":
		return "the backend refuses a label name or value (or the metric name): check relabelling and the receiver's label_limit, label_name_length_limit and label_value_length_limit"
	case "bad_request":
		return "the backend refused the payload: see backend_message"
	default:
		return "the backend's answer is final: a 3xx (redirects are not followed) or a 4xx other than 401, 403, 408 and 429 is not retried; see backend_message, and check the exporter's endpoint"
	}
}

// outOfOrderHint explains an out-of-order refusal with maxInFlight
// requests in flight at most (inFlightSpread says why they may reorder).
func outOfOrderHint(maxInFlight int) string {
	const older = "samples older than the newest the backend holds for their series: "
	const oneWriter = "make sure only one collector writes each series"
	if maxInFlight == 1 {
		return older + "requests are sent one at a time (max_in_flight 1), so they were out of order when captured: " + oneWriter
	}
	return fmt.Sprintf("%swith max_in_flight %d, requests captured up to %s apart are in flight together and can arrive in any order; "+
		"the backend needs an out-of-order window longer than that (an AMP workspace's can be set to 0), or set max_in_flight: 1; and %s",
		older, maxInFlight, inFlightSpread, oneWriter)
}

// credentialsHint names what decides a 401 or 403: the signing scope the request
// carries (access key id, region, service; the key id is no secret) against
// the endpoint's region, and where the credentials come from, read from the
// environment in the order the AWS SDK's default chain uses. No secret is
// read.
func credentialsHint(req *http.Request, env func(string) string) string {
	var b strings.Builder
	keyID, region, service := signingScope(req.Header.Get("Authorization"))
	if region == "" {
		b.WriteString("the request carries no SigV4 signature: set `authenticator: sigv4auth` in the remote_write_delivery extension. ")
	} else {
		fmt.Fprintf(&b, "check the sigv4auth extension's region and service: the request was signed for region %q, service %q", region, service)
		if epRegion := endpointRegion(req.URL.Hostname()); epRegion != "" && epRegion != region {
			fmt.Fprintf(&b, ", but the endpoint is in region %q", epRegion)
		}
		if service != "aps" {
			b.WriteString(" (AMP wants service \"aps\")")
		}
		fmt.Fprintf(&b, ", with access key id %s. ", keyID)
	}
	b.WriteString("Check the credentials source: ")
	b.WriteString(credentialsSource(env))
	b.WriteString("; the identity needs aps:RemoteWrite on the workspace (and any sigv4auth assume_role must be assumable).")
	return b.String()
}

// signingScope reads the access key id, region and service from a SigV4
// Authorization header ("AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=..., Signature=..."); empty strings
// when it is not one.
func signingScope(authorization string) (keyID, region, service string) {
	_, cred, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return "", "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

// endpointRegion returns the region of an AMP endpoint host
// (aps-workspaces.<region>.amazonaws.com), or "".
func endpointRegion(host string) string {
	rest, ok := strings.CutPrefix(host, "aps-workspaces.")
	if !ok {
		return ""
	}
	region, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return region
}

// credentialsSource describes where the AWS SDK's default credential chain
// finds credentials in env, first match wins as in the SDK: static keys,
// a shared profile, IRSA (web identity), EKS Pod Identity (container
// credentials), else instance metadata. Only names and the access key id
// are reported, never a secret or token value.
func credentialsSource(env func(string) string) string {
	switch {
	case env("AWS_ACCESS_KEY_ID") != "":
		s := fmt.Sprintf("static keys from the environment, access key id %s (AWS_ACCESS_KEY_ID); they take precedence over IRSA and Pod Identity", env("AWS_ACCESS_KEY_ID"))
		if env("AWS_SESSION_TOKEN") != "" {
			s += ", with a session token (AWS_SESSION_TOKEN) that may have expired"
		}
		return s
	case env("AWS_PROFILE") != "":
		return fmt.Sprintf("the shared profile %q (AWS_PROFILE)", env("AWS_PROFILE"))
	case env("AWS_ROLE_ARN") != "" && env("AWS_WEB_IDENTITY_TOKEN_FILE") != "":
		return fmt.Sprintf("IRSA, role %s (AWS_ROLE_ARN) with the token in %s (AWS_WEB_IDENTITY_TOKEN_FILE): the role's trust policy must name this ServiceAccount", env("AWS_ROLE_ARN"), env("AWS_WEB_IDENTITY_TOKEN_FILE"))
	case env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		return "EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI): the pod identity association must name this ServiceAccount and a role allowed aps:RemoteWrite"
	default:
		return "none in the environment (no AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE or AWS_CONTAINER_CREDENTIALS_FULL_URI), so the node's instance profile through instance metadata"
	}
}
