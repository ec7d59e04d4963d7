package kubeapiserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceAccountToken asks the TokenRequest API for a token of the
// ServiceAccount namespace/name, valid for ttl (at least 10 minutes, the
// API's minimum), as the kubelet does for a pod's projected token.
func (s *Server) ServiceAccountToken(ctx context.Context, namespace, name string, ttl time.Duration) (string, error) {
	client, err := kubernetes.NewForConfig(s.AdminConfig())
	if err != nil {
		return "", fmt.Errorf("cannot create admin client: %w", err)
	}
	seconds := int64(ttl / time.Second)
	tr, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("cannot request a token for service account %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// ServiceAccountConfig is a client configuration authenticating as the
// ServiceAccount namespace/name with a one-hour TokenRequest token.
func (s *Server) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	token, err := s.ServiceAccountToken(ctx, namespace, name, time.Hour)
	if err != nil {
		return nil, err
	}
	return s.tokenConfig(token), nil
}

// ServiceAccountKubeconfig writes dir/<namespace>-<name>.kubeconfig, a
// kubeconfig authenticating as the ServiceAccount namespace/name with a
// one-hour TokenRequest token and trusting the run's CA, and returns its
// path. Its context's namespace is the ServiceAccount's, as in a pod.
func (s *Server) ServiceAccountKubeconfig(ctx context.Context, namespace, name, dir string) (string, error) {
	token, err := s.ServiceAccountToken(ctx, namespace, name, time.Hour)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, namespace+"-"+name+".kubeconfig")
	return path, s.WriteKubeconfig(path, token, namespace)
}

// AdminKubeconfig writes a kubeconfig for AdminUser to path (for kubectl
// or a debugging session).
func (s *Server) AdminKubeconfig(path string) error {
	return s.WriteKubeconfig(path, s.adminToken, metav1.NamespaceDefault)
}

// WriteKubeconfig writes a kubeconfig for this API server authenticating
// with the bearer token, with namespace as its context's default.
func (s *Server) WriteKubeconfig(path, token, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: s.url, CertificateAuthorityData: s.CACert()}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: namespace}
	cfg.CurrentContext = "test"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("cannot encode kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("cannot write kubeconfig: %w", err)
	}
	return nil
}
