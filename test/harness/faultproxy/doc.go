// Package faultproxy is a controllable HTTP reverse proxy on loopback for
// fault-injection tests: it sits between a remote-write sender and its
// backend and, switched at run time, passes requests through, refuses
// connections (the listening socket is closed, so dialers get ECONNREFUSED),
// answers a fixed status (500, 503, 429 with Retry-After, 400, 403, 413...),
// delays every request, or answers 413 to bodies whose decoded (snappy)
// size exceeds a limit, as Amazon Managed Service for Prometheus does.
//
// It counts what it saw (requests, answers by status, forwarded bodies,
// largest body), so a test can assert both the sender's behaviour (did it
// retry? did it stop?) and the backend's.
//
//	p, err := faultproxy.Start(faultproxy.Config{Upstream: standinURL})
//	defer p.Close()
//	p.Set(faultproxy.Refuse())      // backend outage
//	p.Set(faultproxy.Pass())        // back again
//	fmt.Println(p.Stats().Answered) // map[status]count
package faultproxy
