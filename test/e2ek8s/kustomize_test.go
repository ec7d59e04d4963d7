//go:build e2ek8s

package e2ek8s

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-eks/otelcol-eks/test/harness/deployrender"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// TestDeployVariantsApply renders each deploy/ variant exactly as
// deploy/README.md's apply step does (its environment file, kustomize,
// envsubst with its variables; an account ID starting with 0) and applies
// the rendered text, server-side, to a real API server that has the
// OpenTelemetry Operator's CRD: every object is admitted, twice (the step
// can be run again), and stored as sent: nothing the CRD's schema prunes,
// the account ID a string, the collector configuration as in the source,
// the dashboards as their JSON files.
func TestDeployVariantsApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kube := kubeapiserver.StartForTest(t, kubeapiserver.Options{})
	admin, err := kubernetes.NewForConfig(kube.AdminConfig())
	require.NoError(t, err)
	require.NoError(t, kubeapiserver.EnsureNamespace(ctx, admin, deployNamespace))
	a := newApplier(t, kube.AdminConfig())
	a.installOperatorCRD(t, ctx)

	// source is the file whose spec.config the stored collector's must
	// equal; "" for an overlay that patches it (deploy/ha: test/dist's
	// TestHAPair checks the patch).
	f := func(variant, collector, source string, wantKinds ...string) {
		t.Helper()
		rendered := renderVariant(t, variant)
		var stored map[string]map[string]any
		for range 2 {
			stored = map[string]map[string]any{}
			for name, obj := range a.applyRendered(t, ctx, rendered) {
				stored[name] = obj.Object
			}
		}
		for _, k := range wantKinds {
			require.Contains(t, stored, k, "deploy/%s", variant)
		}
		for _, doc := range deployrender.Documents(rendered) {
			sent := jsonTree(t, doc)
			var o object
			require.NoError(t, jsonDecode(sent, &o))
			require.Empty(t, missingFrom(sent, jsonTree(t, stored[o.String()]), ""),
				"deploy/%s: %s is not stored as sent", variant, o)
		}

		env := stored["ConfigMap/otelcol-eks-env"]
		for _, name := range []string{"EKS_CLUSTER_NAME", "AWS_ACCOUNT_ID", "AWS_REGION", "AMP_ENDPOINT"} {
			require.Equal(t, renderValues[name], env["data"].(map[string]any)[name], "otelcol-eks-env %s", name)
		}
		require.Equal(t, renderValues["OTELCOL_EKS_ROLE_ARN"],
			stored["ServiceAccount/otelcol-eks"]["metadata"].(map[string]any)["annotations"].(map[string]any)["eks.amazonaws.com/role-arn"])

		cr := stored["OpenTelemetryCollector/"+collector]
		require.NotNil(t, cr, "deploy/%s: %s", variant, collector)
		spec := cr["spec"].(map[string]any)
		require.Equal(t, renderValues["OTELCOL_EKS_IMAGE"], spec["image"])
		require.Equal(t, deployNamespace, cr["metadata"].(map[string]any)["namespace"])
		if source != "" {
			data, err := os.ReadFile(filepath.Join("..", "..", "deploy", source))
			require.NoError(t, err)
			require.Equal(t, jsonTree(t, jsonTree(t, string(data))["spec"])["config"], jsonTree(t, spec)["config"],
				"deploy/%s: spec.config changed on its way through kustomize, envsubst and the API server", variant)
		}

		for name, file := range map[string]string{
			"otelcol-eks-dashboard-order-service": "order-service-metrics.json",
			"otelcol-eks-dashboard-cluster":       "cluster-resources.json",
			"otelcol-eks-dashboard-collector":     "collector.json",
		} {
			want, err := os.ReadFile(filepath.Join("..", "..", "deploy", "dashboards", file))
			require.NoError(t, err)
			require.Equal(t, string(want), stored["ConfigMap/"+name]["data"].(map[string]any)[file], "dashboard %s", file)
		}
	}
	common := []string{"ServiceAccount/otelcol-eks", "ClusterRole/otelcol-eks", "ClusterRoleBinding/otelcol-eks",
		"ConfigMap/otelcol-eks-env", "ConfigMap/otelcol-eks-dashboard-order-service", "ConfigMap/otelcol-eks-dashboard-cluster",
		"ConfigMap/otelcol-eks-dashboard-collector"}
	f("", "otelcol-eks", "deployment/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy")...)
	f("deployment", "otelcol-eks", "deployment/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy")...)
	f("ha", "otelcol-eks", "", append(common, "ClusterRole/otelcol-eks-kubelet-proxy")...)
	f("daemonset", "otelcol-eks-node", "daemonset/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-metrics")...)
	f("statefulset", "otelcol-eks-sharded", "statefulset/opentelemetrycollector.yaml", append(common, "ClusterRole/otelcol-eks-kubelet-proxy",
		"ServiceAccount/otelcol-eks-targetallocator", "ClusterRole/otelcol-eks-targetallocator")...)
}
