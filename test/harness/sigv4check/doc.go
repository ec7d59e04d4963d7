// Package sigv4check verifies AWS Signature Version 4 on incoming HTTP
// requests the way Amazon Managed Service for Prometheus (AMP) does, so
// tests and the local AMP stand-in can prove that what the collector sends
// would be accepted by AWS.
//
// Nothing of SigV4 is computed here: the verifier parses the Authorization
// header, rebuilds a copy of the request holding exactly the headers the
// client says it signed, signs that copy with the AWS SDK for Go v2 signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4) using the verifier's own
// credentials, region and service, and compares the two signatures in
// constant time. A request therefore passes only if the SDK, given the
// right secret, would have produced the very same signature.
package sigv4check
