package kubeapiserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Versions of the binaries test/k8sbuild/build.sh builds; they name the
// cache directory, so a version change builds afresh instead of reusing.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
)

// BinDirEnv names the environment variable that overrides DefaultBinDir,
// for build.sh and the tests alike.
const BinDirEnv = "OTELCOL_EKS_K8S_BIN"

// BuildHint says how to get the binaries; it is part of ErrNotBuilt's text.
const BuildHint = "run `make k8s-binaries` (test/k8sbuild/build.sh; about 10 minutes the first time)"

// ErrNotBuilt is wrapped by Start when etcd or kube-apiserver is missing.
var ErrNotBuilt = errors.New("kube-apiserver/etcd/kustomize binaries not built: " + BuildHint)

// DefaultBinDir is where build.sh puts the binaries: $OTELCOL_EKS_K8S_BIN,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-eks/k8s-<k8s>-etcd-<etcd>.
// It must stay in sync with build.sh.
func DefaultBinDir() string {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "otelcol-eks", "k8s-"+KubernetesVersion+"-etcd-"+EtcdVersion)
}

// binaries returns the paths of etcd and kube-apiserver in dir, or an error
// wrapping ErrNotBuilt that names the first one missing.
func binaries(dir string) (etcd, apiserver string, err error) {
	etcd = filepath.Join(dir, "etcd")
	apiserver = filepath.Join(dir, "kube-apiserver")
	for _, p := range []string{etcd, apiserver} {
		if err := executable(p); err != nil {
			return "", "", err
		}
	}
	return etcd, apiserver, nil
}

// executable returns nil if p is an executable file, else an error wrapping
// ErrNotBuilt that names it.
func executable(p string) error {
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%w (%s is missing)", ErrNotBuilt, p)
	}
	return nil
}

// Kustomize returns the path of the kustomize binary build.sh puts beside
// the control plane's (in DefaultBinDir), for tests that build deploy/ as
// `kubectl apply -k` would; the error wraps ErrNotBuilt when it is missing.
func Kustomize() (string, error) {
	p := filepath.Join(DefaultBinDir(), "kustomize")
	return p, executable(p)
}
