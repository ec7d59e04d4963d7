//go:build e2e

package dist

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"

	"github.com/stretchr/testify/require"
)

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	return root
}

// collectorBinary is bin/otelcol-eks as built by `make build`, or
// OTELCOL_EKS_BIN.
func collectorBinary(t *testing.T) string {
	t.Helper()
	bin := workshop.CollectorBinary(repoRoot(t))
	require.NoError(t, workshop.CheckCollectorBinary(bin))
	return bin
}

// workshopEnv is the environment the workshop gives the collector, with
// static test credentials so that the AWS SDK never asks the EC2 metadata
// service.
func workshopEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIDOTELCOLEKSTEST",
		"AWS_SECRET_ACCESS_KEY=otelcol-eks-test-secret-not-real",
		"EKS_CLUSTER_NAME=eks-workshop",
		"AWS_ACCOUNT_ID=123456789012",
		"AWS_REGION=us-west-2",
		"AMP_ENDPOINT=https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/",
		"K8S_NODE_NAME=ip-192-168-10-11.us-west-2.compute.internal",
	}
}

// result is what one run of the binary produced.
type result struct {
	out      string // stdout and stderr, interleaved
	exitCode int
}

func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err, "cannot run %v", cmd.Args)
	}
	return result{out: out.String(), exitCode: code}
}

// runCollector runs the binary with args and the workshop environment.
func runCollector(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(collectorBinary(t), args...)
	cmd.Env = workshopEnv()
	cmd.Dir = repoRoot(t)
	return run(t, cmd)
}

// runCollectorInPod runs the binary as if in a pod: in a private mount
// namespace, with a tmpfs over /run holding the service-account token and
// CA certificate at /var/run/secrets/kubernetes.io/serviceaccount/, which
// the Prometheus receiver's validation opens. Nothing changes outside the
// namespace. As non-root it also maps the user to root in a user namespace.
func runCollectorInPod(t *testing.T, args ...string) result {
	t.Helper()
	return runCollectorInPodEnv(t, workshopEnv(), args...)
}

// runCollectorInPodEnv is runCollectorInPod with the environment env.
func runCollectorInPodEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	secrets := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "token"), []byte("test-service-account-token"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "ca.crt"), selfSignedCA(t), 0o600))

	unshare := []string{"unshare", "--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		unshare = append(unshare, "--map-root-user")
	}
	const podSetup = `set -e
mount -t tmpfs -o size=1m tmpfs /run
dir=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$dir"
cp "$1/token" "$1/ca.crt" "$dir/"
shift
exec "$@"`
	full := append(unshare, "/bin/sh", "-c", podSetup, "pod-setup", secrets, collectorBinary(t))
	full = append(full, args...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = env
	cmd.Dir = repoRoot(t)
	return run(t, cmd)
}

// selfSignedCA is a PEM certificate standing in for the cluster's CA.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestPodEnvironmentIsNeeded proves the pod-like environment is what makes
// the workshop configuration valid: off-cluster, validation fails on the
// service-account files, so the in-pod runs below test something real.
func TestPodEnvironmentIsNeeded(t *testing.T) {
	if _, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token"); err == nil {
		t.Fatal("this machine has a service-account token at the in-cluster path; run the tests off-cluster")
	}
	res := runCollector(t, "validate", "--config", "configs/workshop.yaml")
	require.NotEqual(t, 0, res.exitCode, res.out)
	require.Contains(t, res.out, "/var/run/secrets/kubernetes.io/serviceaccount/")
}

func TestVersionIsStamped(t *testing.T) {
	res := runCollector(t, "--version")
	require.Equal(t, 0, res.exitCode, res.out)
	require.True(t, strings.HasPrefix(res.out, "otelcol-eks version "), res.out)
	require.NotContains(t, res.out, "0.0.0-dev", "make build stamps the version from git")
}
