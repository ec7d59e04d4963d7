// Package rwanswerpolicyextension is the `remote_write_answers` extension: an
// HTTP client middleware for the remote-write exporter that applies the
// answer policy of the remote-write specification to what the backend
// (Amazon Managed Service for Prometheus) answers.
//
//   - Every answer is counted by status code and class
//     (otelcol_remote_write_answers).
//   - 5xx and 429 pass through untouched, so the exporter's retry with
//     backoff applies.
//   - Permanent rejections (400, 403 and 413 by default) are counted by
//     cause (otelcol_remote_write_dropped_requests), logged at most once per
//     cause per log_interval with the status, the start of the backend's
//     message and a hint naming what to check (for 403: the region and
//     service the request was signed for and where the credentials come
//     from; for 413: the request size and max_batch_size_bytes), and then
//     reported to the exporter as delivered, with a synthetic 204 answer.
//
// The synthetic answer is the one place otelcol-eks bends the protocol, and
// the reason is upstream's exporter (contrib v0.165.1): with its write-ahead
// log on, it keeps and re-sends every batch whose export returned an error
// that is not solely a "payload rejection"; with retry_on_failure on, the
// error always wraps a backoff.RetryError whose ErrPermanent cause counts as
// another failure, so no status the exporter can be answered is dropped —
// 400, 403 and 413 bodies are re-sent by the WAL forever (about once a
// second), and every attempt is logged at error level. Answering 2xx is the
// only answer that makes the exporter and its WAL let go; the drop is made
// loud here instead (error log, counters, and a Status text and
// X-Otelcol-Eks-Dropped header on the synthetic answer, visible in the
// exporter's debug log). docs/reliability.md has the details.
//
// Request bodies are never read or altered; for a 413 the decoded size is
// read from the first bytes of a copy of the body (Request.GetBody). Request
// headers are never logged: the access key id (not a secret) and the signing
// scope are read from the Authorization header, and the session token is
// removed from the backend's message before it is logged.
package rwanswerpolicyextension // import "github.com/otelcol-eks/otelcol-eks/components/rwanswerpolicyextension"
