package sigv4check

import (
	"fmt"
	"strings"
)

// signingAlgorithm is the only algorithm AMP accepts on the Authorization header.
const signingAlgorithm = "AWS4-HMAC-SHA256"

// authorization is the parsed form of a SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240102/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
type authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower-case, in the order the client listed them
	Signature     string   // lower-case hex
}

// parseAuthorization parses a SigV4 Authorization header value. It checks
// the form only; whether the values are acceptable is up to the caller.
func parseAuthorization(s string) (authorization, error) {
	var a authorization
	alg, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || alg != signingAlgorithm {
		return a, fmt.Errorf("authorization header must start with %q", signingAlgorithm)
	}
	var credential, signedHeaders string
	var haveCredential, haveSignedHeaders, haveSignature bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("authorization header has a malformed part %q", part)
		}
		switch k {
		case "Credential":
			credential, haveCredential = v, true
		case "SignedHeaders":
			signedHeaders, haveSignedHeaders = v, true
		case "Signature":
			a.Signature, haveSignature = strings.ToLower(v), true
		}
	}
	var missing []string
	for _, p := range []struct {
		name string
		ok   bool
	}{{"Credential", haveCredential}, {"SignedHeaders", haveSignedHeaders}, {"Signature", haveSignature}} {
		if !p.ok {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", p.name))
		}
	}
	if len(missing) > 0 {
		return a, fmt.Errorf("%s", strings.Join(missing, " "))
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return a, fmt.Errorf("credential %q is not of the form <access key>/<date>/<region>/<service>/aws4_request", credential)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if signedHeaders == "" {
		return a, fmt.Errorf("authorization header has an empty SignedHeaders list")
	}
	a.SignedHeaders = strings.Split(strings.ToLower(signedHeaders), ";")
	if a.Signature == "" {
		return a, fmt.Errorf("authorization header has an empty Signature")
	}
	return a, nil
}
