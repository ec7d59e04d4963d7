// Package ampstandin is a local stand-in for Amazon Managed Service for
// Prometheus (AMP): a reverse proxy that checks the AWS SigV4 signature of
// every remote-write request exactly as AMP would (package sigv4check) and
// forwards the good ones to a real Prometheus remote-write receiver.
//
// It answers like AMP: 403 with an AWS-style JSON message for a missing or
// bad signature, the upstream's own status otherwise. Each rejection cause
// is logged at most once per LogInterval (with the number suppressed since),
// and the secret key is never logged. Counters are served as JSON on
// /stats and as Prometheus text on /metrics for end-to-end assertions.
//
// With Config.HA it also deduplicates HA pairs as AMP does (ha.go): one
// leader replica per `cluster` value, only its requests stored and without
// `__replica__`, the others answered 202, failover after the leader's
// silence. Off by default: request bodies are then forwarded unread.
package ampstandin
