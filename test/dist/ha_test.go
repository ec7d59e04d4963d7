//go:build e2e

package dist

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// builtCollector builds deploy/<variant> with kustomize, as deploy/README.md
// does, from a copy of deploy/ holding the environment file the README
// writes first, and returns its OpenTelemetryCollector.
func builtCollector(t *testing.T, variant string) map[string]any {
	t.Helper()
	kustomize, err := kubeapiserver.Kustomize()
	require.NoError(t, err)
	deploy := filepath.Join(t.TempDir(), "deploy")
	require.NoError(t, os.CopyFS(deploy, os.DirFS(filepath.Join(repoRoot(t), "deploy"))))
	env := "EKS_CLUSTER_NAME=eks-workshop\nAWS_ACCOUNT_ID=012345678901\nAWS_REGION=us-west-2\nAMP_ENDPOINT=https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3d/\n"
	require.NoError(t, os.WriteFile(filepath.Join(deploy, "base", "environment.env"), []byte(env), 0o600))
	cmd := exec.Command(kustomize, "build", filepath.Join(deploy, variant))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kustomize build deploy/%s: %s", variant, stderr.String())
	dec := yaml.NewDecoder(bytes.NewReader(out))
	var collector map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if doc["kind"] == "OpenTelemetryCollector" {
			require.Nil(t, collector, "deploy/%s: one collector", variant)
			collector = doc
		}
	}
	require.NotNil(t, collector, "deploy/%s: no OpenTelemetryCollector", variant)
	return collector
}

// TestHAPair checks deploy/ha as deploy/README.md builds it: the deployment
// variant's collector, changed only where an HA pair must be. Two
// replicas, never two on one node and spread across zones (the selector
// matches the labels the operator gives the collector's pods), a
// PodDisruptionBudget that never lets both go at once; `__replica__` from
// the pod's name on the workload's series, none on the collectors' own,
// which have an exporter and a queue of their own; the queues within the
// volume; every other setting the deployment variant's; the configuration
// valid in a pod, and refused without POD_NAME, so that two replicas can
// never run under one name.
func TestHAPair(t *testing.T) {
	ha, single := builtCollector(t, "ha"), builtCollector(t, "deployment")
	spec, singleSpec := ha["spec"].(map[string]any), single["spec"].(map[string]any)
	name := str(ha, "metadata", "name")
	require.Equal(t, str(single, "metadata", "name"), name, "the pair replaces the deployment variant's collector")
	require.Equal(t, "deployment", spec["mode"])
	require.EqualValues(t, 2, spec["replicas"])

	// The operator makes the PodDisruptionBudget from this (and the same
	// one when it is absent): one of the two may be evicted at a time.
	require.Equal(t, map[string]any{"maxUnavailable": 1}, spec["podDisruptionBudget"])

	// The operator labels the pods <name>-collector and
	// opentelemetry-collector (manifestutils.Labels); the constraints must
	// select them, each ReplicaSet on its own.
	podLabels := map[string]any{"app.kubernetes.io/name": name + "-collector", "app.kubernetes.io/component": "opentelemetry-collector"}
	spread := map[string]string{}
	for _, c := range list(spec, "topologySpreadConstraints") {
		c := c.(map[string]any)
		require.Equal(t, podLabels, lookup(c, "labelSelector", "matchLabels"), "%v", c)
		require.Equal(t, []any{"pod-template-hash"}, c["matchLabelKeys"])
		require.EqualValues(t, 1, c["maxSkew"])
		require.Equal(t, "Honor", c["nodeTaintsPolicy"], "nodes the collector cannot run on must not count")
		spread[c["topologyKey"].(string)] = c["whenUnsatisfiable"].(string)
	}
	require.Equal(t, map[string]string{"kubernetes.io/hostname": "DoNotSchedule", "topology.kubernetes.io/zone": "ScheduleAnyway"}, spread)

	// The replica label is the pod's name: POD_NAME, which the operator
	// injects from metadata.name unless the resource sets it otherwise.
	for _, e := range list(spec, "env") {
		if e := e.(map[string]any); e["name"] == "POD_NAME" {
			require.Equal(t, "metadata.name", str(e, "valueFrom", "fieldRef", "fieldPath"), "POD_NAME must be the pod's name")
		}
	}
	cfg := spec["config"].(map[string]any)
	exporters := lookup(cfg, "exporters").(map[string]any)
	workload := exporters["prometheus_remote_write"].(map[string]any)
	self := exporters["prometheus_remote_write/self"].(map[string]any)
	require.Equal(t, "${env:POD_NAME}", str(workload, "external_labels", "__replica__"))
	require.Equal(t, "remote_write_delivery/self", str(self, "auth", "authenticator"))
	require.Empty(t, str(self, "external_labels", "__replica__"), "the collectors' own metrics must not be deduplicated")

	// Every other setting of the pair is the deployment variant's: undo the
	// pair's changes and nothing differs.
	undone := cloneYAML(t, cfg)
	exporters = lookup(undone, "exporters").(map[string]any)
	delete(lookup(exporters, "prometheus_remote_write", "external_labels").(map[string]any), "__replica__")
	self = exporters["prometheus_remote_write/self"].(map[string]any)
	self["auth"] = lookup(exporters, "prometheus_remote_write", "auth")
	require.Equal(t, exporters["prometheus_remote_write"], self, "the self exporter is the workload's but for __replica__ and its queue")
	delete(exporters, "prometheus_remote_write/self")
	extensions := lookup(undone, "extensions").(map[string]any)
	selfQueue := extensions["remote_write_delivery/self"].(map[string]any)
	queueMiB := lookup(extensions, "remote_write_delivery", "max_size_mib").(int) + selfQueue["max_size_mib"].(int)
	selfQueue["max_size_mib"] = lookup(extensions, "remote_write_delivery", "max_size_mib")
	require.Equal(t, extensions["remote_write_delivery"], selfQueue, "the self queue is the workload's but for its size")
	delete(extensions, "remote_write_delivery/self")
	service := lookup(undone, "service").(map[string]any)
	require.Contains(t, list(service, "extensions"), "remote_write_delivery/self")
	service["extensions"] = slices.DeleteFunc(list(service, "extensions"), func(v any) bool { return v == "remote_write_delivery/self" })
	pipelines := lookup(service, "pipelines").(map[string]any)
	require.Equal(t, map[string]any{
		"receivers": []any{"prometheus/self"}, "processors": []any{"memory_limiter", "batch"}, "exporters": []any{"prometheus_remote_write/self"},
	}, pipelines["metrics/self"])
	delete(pipelines, "metrics/self")
	require.Equal(t, []any{"prometheus"}, lookup(pipelines, "metrics", "receivers"))
	pipelines["metrics"].(map[string]any)["receivers"] = []any{"prometheus", "prometheus/self"}
	require.Equal(t, singleSpec["config"], undone, "deploy/ha's config beyond the pair's changes must be the deployment variant's")
	for _, k := range []string{"replicas", "podDisruptionBudget", "topologySpreadConstraints", "config"} {
		delete(spec, k)
		delete(singleSpec, k)
	}
	require.Equal(t, singleSpec, spec, "the rest of the resource is the deployment variant's")

	// Both queues fit in the emptyDir, below its sizeLimit, so that the
	// queues drop their oldest requests before the kubelet evicts the pod.
	var limit resource.Quantity
	for _, v := range list(spec, "volumes") {
		if v := v.(map[string]any); v["name"] == "storage" {
			limit = resource.MustParse(str(v, "emptyDir", "sizeLimit"))
		}
	}
	require.Greater(t, limit.Value(), int64(queueMiB)<<20, "the storage volume's sizeLimit must exceed both queues' max_size_mib")

	data, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	res := runCollectorInPodEnv(t, append(workshopEnv(), "POD_NAME="+name+"-collector-6f9c8d7b5-a4kq2"), "validate", "--config", path)
	require.Equal(t, 0, res.exitCode, "deploy/ha's spec.config must validate in a pod:\n%s", res.out)
	var unnamed []string
	for _, e := range workshopEnv() {
		if !bytes.HasPrefix([]byte(e), []byte("POD_NAME=")) {
			unnamed = append(unnamed, e)
		}
	}
	res = runCollectorInPodEnv(t, unnamed, "validate", "--config", path)
	require.NotEqual(t, 0, res.exitCode, "without POD_NAME the pair's replicas would share one name")
	require.Contains(t, res.out, `"prometheus_remote_write" exporter`)
	require.Contains(t, res.out, "external labels configuration contains an empty key or value")
}

// cloneYAML returns a deep copy of a decoded YAML document.
func cloneYAML(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	data, err := yaml.Marshal(doc)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, yaml.Unmarshal(data, &out))
	return out
}
