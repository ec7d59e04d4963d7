package sigv4check

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	amzDateHeader          = "X-Amz-Date"
	amzContentSHA256Header = "X-Amz-Content-Sha256"
	amzSecurityTokenHeader = "X-Amz-Security-Token"
	amzDateFormat          = "20060102T150405Z"
	amzShortDateFormat     = "20060102"

	// DefaultMaxSkew is the clock skew AWS accepts between X-Amz-Date and
	// its own clock.
	DefaultMaxSkew = 5 * time.Minute
	// DefaultMaxBodyBytes bounds the body Handler reads. AMP's own limit
	// is far lower; this only protects the process.
	DefaultMaxBodyBytes = 64 << 20
)

// Verifier checks SigV4 signatures against one set of credentials, one
// region and one service, as a single AMP workspace does. The zero values
// of MaxSkew, Now and MaxBodyBytes select defaults; the other fields are
// required. A Verifier is safe for concurrent use once configured.
type Verifier struct {
	Credentials aws.Credentials  // the only accepted access key / secret (and session token, if set)
	Region      string           // e.g. "us-west-2"
	Service     string           // "aps"
	MaxSkew     time.Duration    // accepted clock skew for X-Amz-Date; 0 means DefaultMaxSkew
	Now         func() time.Time // nil means time.Now
	// MaxBodyBytes bounds the body Handler reads; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// OnReject, if set, is called by Handler for every refused request,
	// before the response is written (for counters and logs). It must be
	// safe for concurrent use.
	OnReject func(r *http.Request, rej *RejectError)
}

// Verify checks r's signature over body (the full request body, already
// read; r.Body is not touched). It returns nil when AWS would accept the
// request, else a *RejectError saying why not. Checks run in the order AWS
// reports them: presence and form of the header, access key, session
// token, credential scope (service, region, date), clock skew, payload
// hash, and finally the signature itself.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	authHeader := r.Header.Get("Authorization")
	if authHeader == "" {
		return reject(http.StatusForbidden, ReasonMissingSignature, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	auth, err := parseAuthorization(authHeader)
	if err != nil {
		return reject(http.StatusForbidden, ReasonMalformedSignature, "IncompleteSignatureException", err.Error())
	}
	if subtle.ConstantTimeCompare([]byte(auth.AccessKeyID), []byte(v.Credentials.AccessKeyID)) != 1 {
		return reject(http.StatusForbidden, ReasonUnknownAccessKey, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if v.Credentials.SessionToken != "" &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(amzSecurityTokenHeader)), []byte(v.Credentials.SessionToken)) != 1 {
		return reject(http.StatusForbidden, ReasonInvalidSecurityToken, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if auth.Service != v.Service {
		return reject(http.StatusForbidden, ReasonWrongService, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", v.Service))
	}
	if auth.Region != v.Region {
		return reject(http.StatusForbidden, ReasonWrongRegion, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", auth.Region))
	}

	amzDate := r.Header.Get(amzDateHeader)
	if amzDate == "" {
		return reject(http.StatusForbidden, ReasonMalformedSignature, "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return reject(http.StatusForbidden, ReasonMalformedSignature, "IncompleteSignatureException",
			fmt.Sprintf("X-Amz-Date %q is not of the form %s.", amzDate, amzDateFormat))
	}
	if d := signedAt.Format(amzShortDateFormat); d != auth.Date {
		return reject(http.StatusForbidden, ReasonMalformedSignature, "InvalidSignatureException",
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", auth.Date, d, amzDate))
	}
	if rej := v.checkSkew(signedAt); rej != nil {
		return rej
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get(amzContentSHA256Header); h != "" && h != payloadHash {
		return reject(http.StatusForbidden, ReasonPayloadHashMismatch, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	want, err := v.sign(r, auth, len(body), payloadHash, signedAt)
	if err != nil {
		return reject(http.StatusForbidden, ReasonMalformedSignature, "IncompleteSignatureException",
			fmt.Sprintf("cannot re-derive the signature: %v", err))
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.Signature)) != 1 {
		return reject(http.StatusForbidden, ReasonSignatureMismatch, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func (v *Verifier) checkSkew(signedAt time.Time) *RejectError {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	minutes := fmt.Sprintf("%g min.", skew.Minutes())
	switch {
	case signedAt.Before(t.Add(-skew)):
		return reject(http.StatusForbidden, ReasonStaleDate, "InvalidSignatureException",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
				signedAt.Format(amzDateFormat), t.Add(-skew).Format(amzDateFormat), t.Format(amzDateFormat), minutes))
	case signedAt.After(t.Add(skew)):
		return reject(http.StatusForbidden, ReasonStaleDate, "InvalidSignatureException",
			fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
				signedAt.Format(amzDateFormat), t.Add(skew).Format(amzDateFormat), t.Format(amzDateFormat), minutes))
	}
	return nil
}

// sign rebuilds the request the client signed — method, path, query, host,
// content length and exactly the headers named in SignedHeaders — signs it
// with the SDK signer and returns the hex signature the SDK produced.
// Headers the client did not sign (Accept-Encoding added by Go's transport,
// User-Agent which the SDK never signs, hop-by-hop headers added by proxies)
// are left out, just as they were left out when the client signed.
func (v *Verifier) sign(r *http.Request, auth authorization, bodyLen int, payloadHash string, signedAt time.Time) (string, error) {
	u := *r.URL
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	cp := &http.Request{
		Method: r.Method,
		URL:    &u,
		Host:   r.Host,
		Header: make(http.Header, len(auth.SignedHeaders)),
	}
	for _, h := range auth.SignedHeaders {
		switch h {
		case "host":
			// Go's server moves Host out of the header map into r.Host;
			// the signer takes it from cp.Host.
		case "content-length":
			// The signer signs the length it is given, not the header.
			cp.ContentLength = int64(bodyLen)
		default:
			key := textproto.CanonicalMIMEHeaderKey(h)
			if vals := r.Header.Values(key); len(vals) > 0 {
				cp.Header[key] = append([]string(nil), vals...)
			}
		}
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), v.Credentials, cp, payloadHash, v.Service, v.Region, signedAt); err != nil {
		return "", fmt.Errorf("cannot sign the request copy: %w", err)
	}
	got, err := parseAuthorization(cp.Header.Get("Authorization"))
	if err != nil {
		return "", fmt.Errorf("cannot parse the SDK's own authorization header: %w", err)
	}
	return got.Signature, nil
}
