//go:build e2ek8s

package e2ek8s

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// placeholders are what deploy/README.md's envsubst fills in, with values
// of the right shape.
var placeholders = map[string]string{
	"${OTELCOL_EKS_IMAGE}":    "123456789012.dkr.ecr.us-west-2.amazonaws.com/otelcol-eks:v0.1.0",
	"${OTELCOL_EKS_ROLE_ARN}": "arn:aws:iam::123456789012:role/otelcol-eks",
	"${EKS_CLUSTER_NAME}":     "eks-workshop",
	"${AWS_ACCOUNT_ID}":       "123456789012",
	"${AWS_REGION}":           "us-west-2",
	"${AMP_ENDPOINT}":         "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3d/",
}

// TestDeployVariantsBuildAndApply builds each deploy/ variant with
// kustomize, fills the placeholders as the README's envsubst does, and has
// a real API server admit every object (server-side dry run) but the
// OpenTelemetryCollector, whose spec.config must come out of kustomize
// exactly as written in the source (the `$$` escapes and `${env:...}`
// references untouched).
func TestDeployVariantsBuildAndApply(t *testing.T) {
	kustomize, err := kubeapiserver.Kustomize()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kube := kubeapiserver.StartForTest(t, kubeapiserver.Options{})
	admin, err := kubernetes.NewForConfig(kube.AdminConfig())
	require.NoError(t, err)
	require.NoError(t, kubeapiserver.EnsureNamespace(ctx, admin, deployNamespace))

	f := func(variant, source string, wantKinds ...string) {
		t.Helper()
		cmd := exec.Command(kustomize, "build", filepath.Join("..", "..", "deploy", variant))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "kustomize build deploy/%s: %s", variant, stderr.String())

		built := string(out)
		for k, v := range placeholders {
			built = strings.ReplaceAll(built, k, v)
		}
		require.NotContains(t, built, "${OTELCOL_EKS", "deploy/%s: a placeholder the README does not fill", variant)
		created := applyYAML(t, ctx, admin, built, true)
		for _, k := range wantKinds {
			require.Contains(t, created, k, "deploy/%s", variant)
		}

		var collector map[string]any
		for _, doc := range strings.Split(built, "\n---\n") {
			var o map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
			if o["kind"] == "OpenTelemetryCollector" {
				require.Nil(t, collector, "deploy/%s: one collector", variant)
				collector = o
				require.Equal(t, deployNamespace, o["metadata"].(map[string]any)["namespace"])
				require.Equal(t, placeholders["${OTELCOL_EKS_IMAGE}"], o["spec"].(map[string]any)["image"])
			}
		}
		require.NotNil(t, collector, "deploy/%s: no OpenTelemetryCollector", variant)
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", source))
		require.NoError(t, err)
		var want map[string]any
		require.NoError(t, yaml.Unmarshal(data, &want))
		require.Equal(t, want["spec"].(map[string]any)["config"], collector["spec"].(map[string]any)["config"],
			"deploy/%s: spec.config changed on its way through kustomize and envsubst", variant)
	}
	common := []string{"ServiceAccount/otelcol-eks", "ClusterRole/otelcol-eks", "ClusterRoleBinding/otelcol-eks",
		"ConfigMap/otelcol-eks-env", "ConfigMap/otelcol-eks-dashboard-order-service", "ConfigMap/otelcol-eks-dashboard-cluster",
		"ConfigMap/otelcol-eks-dashboard-collector"}
	f("", "deployment/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy")...)
	f("deployment", "deployment/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy")...)
	f("daemonset", "daemonset/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-metrics")...)
	f("statefulset", "statefulset/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy",
		"ServiceAccount/otelcol-eks-targetallocator", "ClusterRole/otelcol-eks-targetallocator")...)
}
