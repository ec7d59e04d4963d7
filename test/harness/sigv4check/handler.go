package sigv4check

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// Handler wraps next with signature verification. It reads the whole body
// (at most MaxBodyBytes), verifies it, and on failure answers with the
// RejectError's status and AWS-like JSON message without calling next. On
// success next sees the request with its body restored (and GetBody set),
// so it can read the body again or forward the request as is.
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, rej := v.ReadBody(w, r)
		if rej == nil {
			if err := v.Verify(r, body); err != nil {
				rej = AsReject(err)
			}
		}
		if rej != nil {
			if v.OnReject != nil {
				v.OnReject(r, rej)
			}
			rej.WriteResponse(w)
			return
		}
		RestoreBody(r, body)
		next.ServeHTTP(w, r)
	})
}

// ReadBody reads r's body bounded by MaxBodyBytes and closes it. Callers
// that verify and then forward (the AMP stand-in, the remote-write
// Recorder) use it so oversize bodies are refused the same way everywhere.
func (v *Verifier) ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, *RejectError) {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	defer r.Body.Close()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, reject(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "RequestEntityTooLargeException", "Request body is too large.")
		}
		return nil, reject(http.StatusBadRequest, ReasonBodyUnreadable, "BadRequestException", "cannot read request body: "+err.Error())
	}
	return body, nil
}

// RestoreBody makes body r's body again, replayable through GetBody, with a
// matching ContentLength.
func RestoreBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
}

// AsReject returns err as a *RejectError; any other error becomes a 403
// signature mismatch so a caller can never let an unexplained failure through.
func AsReject(err error) *RejectError {
	var rej *RejectError
	if errors.As(err, &rej) {
		return rej
	}
	return reject(http.StatusForbidden, ReasonSignatureMismatch, "InvalidSignatureException", err.Error())
}
