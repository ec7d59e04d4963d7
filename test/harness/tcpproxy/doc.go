// Package tcpproxy is a switchable TCP proxy on loopback for fault-injection
// tests of clients whose protocol an HTTP proxy cannot stand in the middle
// of, such as a Kubernetes client speaking TLS (with its own CA and HTTP/2)
// to kube-apiserver. It forwards bytes unchanged, so TLS still verifies
// end to end against the server's certificate: the proxy's address must be
// one of the certificate's names (127.0.0.1 for a test API server).
//
// Switched at run time, it either passes new connections through or
// refuses them: Refuse closes the listening socket, so dialers get
// ECONNREFUSED as from a host whose server is gone, and cuts every open
// connection with a reset, so a client's long-running watch ends at once.
// Pass listens again on the same address.
//
//	p, err := tcpproxy.Start(tcpproxy.Config{Upstream: "127.0.0.1:6443"})
//	defer p.Close()
//	p.Refuse() // API server unreachable; open connections cut
//	p.Pass()   // back again
package tcpproxy
