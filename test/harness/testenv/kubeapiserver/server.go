package kubeapiserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv"

	"k8s.io/client-go/rest"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

// ServiceAccountIssuer is the issuer of the service-account tokens, the
// in-cluster name of the API server as on EKS.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// AdminUser is the user the admin token authenticates as; it is in the
// system:masters group, which RBAC always allows.
const AdminUser = "otelcol-eks-test-admin"

// auditPolicy records every request's metadata (user, verb, resource,
// response code): enough to count forbidden answers per user, small enough
// to write for every request. A watch (and so a list that client-go streams
// as a watch) logs ResponseStarted when it begins and ResponseComplete only
// when it ends; a refused request logs ResponseComplete at once.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// Options configures Start. The zero value is usable.
type Options struct {
	// BinDir holds etcd and kube-apiserver; "" means DefaultBinDir().
	BinDir string
	// ExtraArgs are appended to kube-apiserver's command line.
	ExtraArgs []string
	// ReadyTimeout bounds the wait for etcd's /health and the API server's
	// /readyz; 0 means 2 minutes (the API server takes 10–30 s on a busy
	// 2-core machine).
	ReadyTimeout time.Duration
	// Output, if set, receives both processes' logs as well; they are kept
	// in memory either way (Logs).
	Output io.Writer
}

// Server is a running etcd and kube-apiserver. Its methods are safe for
// concurrent use.
type Server struct {
	dir        string
	url        string
	adminToken string
	pki        *pki
	auditLog   string
	etcdURL    string

	etcd, apiserver *childproc.Process

	stopOnce sync.Once
	stopErr  error
}

// Start launches etcd and kube-apiserver on free loopback ports with their
// data, keys and logs in a new temporary directory, and returns once the
// API server's /readyz answers 200. It wraps ErrNotBuilt when the binaries
// are missing. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binDir := opts.BinDir
	if binDir == "" {
		binDir = DefaultBinDir()
	}
	etcdBin, apiserverBin, err := binaries(binDir)
	if err != nil {
		return nil, err
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "kubeapiserver-")
	if err != nil {
		return nil, fmt.Errorf("cannot create temporary directory: %w", err)
	}
	s := &Server{dir: dir, auditLog: filepath.Join(dir, "audit.log")}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()

	if s.pki, err = newPKI(dir, 24*time.Hour); err != nil {
		return nil, err
	}
	if s.adminToken, err = randomToken(); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(tokenFile, []byte(s.adminToken+","+AdminUser+",admin-uid,\"system:masters\"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("cannot write token file: %w", err)
	}
	policyFile := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyFile, []byte(auditPolicy), 0o600); err != nil {
		return nil, fmt.Errorf("cannot write audit policy: %w", err)
	}

	if err := s.startEtcd(ctx, etcdBin, opts.Output); err != nil {
		return nil, err
	}
	if err := s.startAPIServer(ctx, apiserverBin, tokenFile, policyFile, opts); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *Server) startEtcd(ctx context.Context, bin string, out io.Writer) error {
	ports, err := loopback.FreePorts(2)
	if err != nil {
		return err
	}
	clientPort, peerPort := ports[0], ports[1]
	clientURL := "http://" + loopbackAddr(clientPort)
	peerURL := "http://" + loopbackAddr(peerPort)
	s.etcd, err = startProcess("etcd", bin, out, []string{
		"--name=test",
		"--data-dir=" + filepath.Join(s.dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=test=" + peerURL,
		// A test's data need not survive a power cut; fsync on a machine
		// shared with compilers costs seconds per write.
		"--unsafe-no-fsync",
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if err := s.etcd.WaitHTTP(ctx, childproc.Probe{URL: clientURL + "/health", Client: client}); err != nil {
		return fmt.Errorf("cannot start etcd: %w", err)
	}
	s.etcdURL = clientURL
	return nil
}

func (s *Server) startAPIServer(ctx context.Context, bin, tokenFile, policyFile string, opts Options) error {
	ports, err := loopback.FreePorts(1)
	if err != nil {
		return err
	}
	port := ports[0]
	s.url = "https://" + loopbackAddr(port)
	args := append([]string{
		"--etcd-servers=" + s.etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--advertise-address=127.0.0.1",
		// No kubernetes Service endpoints to keep: there is no network
		// behind the advertised address but this process.
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--tls-cert-file=" + s.pki.servingCertFile,
		"--tls-private-key-file=" + s.pki.servingKeyFile,
		"--cert-dir=" + filepath.Join(s.dir, "certs"),
		"--authorization-mode=RBAC",
		"--token-auth-file=" + tokenFile,
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + s.pki.saPublicKeyFile,
		"--service-account-signing-key-file=" + s.pki.saSigningKeyFile,
		"--audit-policy-file=" + policyFile,
		"--audit-log-path=" + s.auditLog,
		// Blocking: an event is written before its response is sent, so a
		// test that has seen a response can count it in the log.
		"--audit-log-mode=blocking",
		"--audit-log-maxsize=0",
	}, opts.ExtraArgs...)
	s.apiserver, err = startProcess("kube-apiserver", bin, opts.Output, args)
	if err != nil {
		return err
	}
	header := http.Header{"Authorization": {"Bearer " + s.adminToken}}
	probe := childproc.Probe{URL: s.url + "/readyz", Header: header, Client: s.httpClient()}
	if err := s.apiserver.WaitHTTP(ctx, probe); err != nil {
		return fmt.Errorf("cannot start kube-apiserver: %w", err)
	}
	return nil
}

// httpClient trusts the run's CA only.
func (s *Server) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.pki.caPEM)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
}

// URL is the API server's base URL, e.g. https://127.0.0.1:40123.
func (s *Server) URL() string { return s.url }

// CACert is the PEM certificate of the CA that signed the serving
// certificate: what a pod finds in .../serviceaccount/ca.crt.
func (s *Server) CACert() []byte { return append([]byte(nil), s.pki.caPEM...) }

// AdminConfig is a client configuration authenticating as AdminUser
// (system:masters, beyond RBAC).
func (s *Server) AdminConfig() *rest.Config {
	return s.tokenConfig(s.adminToken)
}

func (s *Server) tokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            s.url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CACert()},
		QPS:             100,
		Burst:           200,
	}
}

// Logs returns the last bytes etcd and kube-apiserver logged.
func (s *Server) Logs() string {
	var out string
	if s.etcd != nil {
		out += "--- etcd\n" + s.etcd.Tail(4000) + "\n"
	}
	if s.apiserver != nil {
		out += "--- kube-apiserver\n" + s.apiserver.Tail(8000) + "\n"
	}
	return out
}

// Stop ends kube-apiserver, then etcd (SIGTERM, SIGKILL after 10 s), and
// removes the temporary directory. It is safe to call more than once; later
// calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		// How the children took SIGTERM does not matter to the caller.
		if s.apiserver != nil {
			_ = s.apiserver.Stop(stopGrace)
		}
		if s.etcd != nil {
			_ = s.etcd.Stop(stopGrace)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			s.stopErr = fmt.Errorf("cannot remove %s: %w", s.dir, err)
		}
	})
	return s.stopErr
}

// StartForTest starts a control plane for t, stops it when the test ends
// (printing its logs if the test failed), and fails the test, never skips
// it, when the binaries are missing or do not start.
func StartForTest(t testenv.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), opts)
	if err != nil {
		// ErrNotBuilt's text says how to build the binaries.
		t.Fatalf("cannot start the test control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", s.Logs())
		}
		if err := s.Stop(); err != nil {
			t.Logf("cannot stop the test control plane: %v", err)
		}
	})
	return s
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot generate a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
