package sigv4check

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Reasons a request is rejected, as RejectError.Reason. They are stable,
// machine-friendly names meant for counters, logs and test assertions.
const (
	ReasonMissingSignature     = "missing_signature"      // no Authorization header
	ReasonMalformedSignature   = "malformed_signature"    // Authorization or X-Amz-Date present but unparsable or inconsistent
	ReasonUnknownAccessKey     = "unknown_access_key"     // access key id is not the verifier's
	ReasonInvalidSecurityToken = "invalid_security_token" // session token missing or not the verifier's
	ReasonSignatureMismatch    = "signature_mismatch"     // wrong secret, altered headers/path/body, or a different signing method
	ReasonWrongRegion          = "wrong_region"           // credential scope names another region
	ReasonWrongService         = "wrong_service"          // credential scope names another service
	ReasonStaleDate            = "stale_date"             // X-Amz-Date further from now than MaxSkew
	ReasonPayloadHashMismatch  = "payload_hash_mismatch"  // X-Amz-Content-Sha256 does not match the body
	ReasonBodyTooLarge         = "body_too_large"         // body larger than the Handler's bound
	ReasonBodyUnreadable       = "body_unreadable"        // the Handler could not read the body
)

// RejectError tells why a request was refused and how to answer it.
type RejectError struct {
	// Status is the HTTP status to answer with: 403 for every signature
	// problem (as AWS does), 413 or 400 for body problems.
	Status int
	// Reason is one of the Reason* constants.
	Reason string
	// Type is the AWS error type sent in the x-amzn-ErrorType header, e.g.
	// "InvalidSignatureException".
	Type string
	// Message is AWS-like text meant for the client; it never contains the
	// secret key.
	Message string
}

// Error implements error.
func (e *RejectError) Error() string {
	return "request rejected (" + e.Reason + "): " + e.Message
}

// WriteResponse answers w the way AWS front ends do: the status, the error
// type in x-amzn-ErrorType and a JSON body {"message": "..."}.
func (e *RejectError) WriteResponse(w http.ResponseWriter) {
	body, err := json.Marshal(struct {
		Message string `json:"message"`
	}{e.Message})
	if err != nil { // cannot happen for a struct of one string; keep a body anyway
		body = []byte(`{"message":"request rejected"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.Type != "" {
		h.Set("x-amzn-ErrorType", e.Type)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

func reject(status int, reason, typ, msg string) *RejectError {
	return &RejectError{Status: status, Reason: reason, Type: typ, Message: msg}
}
