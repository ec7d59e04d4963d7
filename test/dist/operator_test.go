//go:build e2e

package dist

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // kubernetes_sd_configs in the jobs loaded below
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/util/strutil"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/otelcol-eks/otelcol-eks/test/harness/deployrender"
	"github.com/otelcol-eks/otelcol-eks/test/harness/otelop"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
)

// The OpenTelemetry Operator reconciles deploy/'s OpenTelemetryCollector
// resources; what it does to them is encoded in test/harness/otelop (each
// rule names the operator source file it follows). These tests check the
// resources against it: the configuration the operator writes is ours but
// for what the tests allow, it validates, it names the pod as `instance`,
// and the pods it makes are no scrape target of any kubernetes-pods job.

// deployNamespace is the namespace deploy/'s kustomizations put everything in.
const deployNamespace = "other"

// Pod and node names the tests give the collector pods.
const (
	testPodName  = "otelcol-eks-collector-6c9f8d7b5-k4m2x"
	testNodeName = "ip-192-168-10-11.us-west-2.compute.internal"
	testPodIP    = "192.168.10.57"
)

// testNode is an m5.large.
var testNode = otelop.Node{Name: testNodeName, CPU: resource.MustParse("2"), Memory: resource.MustParse("7Gi")}

// builtVariants are the variants whose collector exists only as
// kustomize builds it (overlays that patch another variant's).
var builtVariants = []string{"ha"}

// deployCollectors returns deploy/'s OpenTelemetryCollector resources, in
// the namespace the kustomizations give them: by file, and the overlays'
// as deploy/README.md renders them, by "<variant> (built)".
func deployCollectors(t *testing.T) map[string]otelop.Resource {
	t.Helper()
	out := map[string]otelop.Resource{}
	for _, m := range deployManifests(t) {
		if m.kind() != "OpenTelemetryCollector" {
			continue
		}
		r, err := otelop.ResourceFrom(m.doc)
		require.NoError(t, err, m.file)
		r.Namespace = deployNamespace
		out[m.file] = r
	}
	kustomize, err := kubeapiserver.Kustomize()
	require.NoError(t, err)
	for _, variant := range builtVariants {
		rendered, err := deployrender.Render(kustomize, repoRoot(t), t.TempDir(), variant, deployrender.ExampleValues)
		require.NoError(t, err)
		for _, doc := range deployrender.Documents(rendered) {
			var m map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
			if m["kind"] == "OpenTelemetryCollector" {
				r, err := otelop.ResourceFrom(m)
				require.NoError(t, err, variant)
				out[variant+" (built)"] = r
			}
		}
		require.Contains(t, out, variant+" (built)", "deploy/%s builds no collector", variant)
	}
	return out
}

// operatorConfig is the collector configuration the operator writes into
// the resource's ConfigMap (otelop.Resource.OperatorConfig).
func operatorConfig(t *testing.T, r otelop.Resource) map[string]any {
	t.Helper()
	cfg, err := r.OperatorConfig()
	require.NoError(t, err)
	return cfg
}

// TestOperatorDefaultingKeepsConfig: the operator's admission defaulting
// leaves each resource's spec.config as written, but for health_check's
// path, which it adds with the extension's own default ("/"), and records
// no DefaultsApplied event. The control shows what it does to a telemetry
// block it cannot read (the form these configurations had before): it
// replaces it, taking the resource attribute naming the pod with it.
func TestOperatorDefaultingKeepsConfig(t *testing.T) {
	for file, r := range deployCollectors(t) {
		t.Run(file, func(t *testing.T) {
			defaulted, events, err := otelop.DefaultConfig(r.Config())
			require.NoError(t, err)
			require.Empty(t, events, "the operator replaces or completes service.telemetry")
			require.Equal(t, []string{`extensions.health_check.path: added "/"`}, configDiff(t, r.Config(), defaulted))
		})
	}

	control := deployCollectors(t)["deployment/opentelemetrycollector.yaml"].Config()
	telemetry := lookup(control, "service", "telemetry").(map[string]any)
	telemetry["resource"] = map[string]any{"attributes": []any{map[string]any{"name": "service.instance.id", "value": "${env:POD_NAME}"}}}
	defaulted, events, err := otelop.DefaultConfig(control)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "Spec.Service.Telemetry.DefaultsApplied", events[0].Reason)
	require.Nil(t, lookup(defaulted, "service", "telemetry", "resource"), "the control: an unreadable block is replaced whole")
	tel, ok := otelop.ReadTelemetry(defaulted["service"].(map[string]any))
	require.True(t, ok)
	host, port := tel.MetricsReaderEndpoint()
	require.Equal(t, "0.0.0.0:8888", fmt.Sprintf("%s:%d", host, port))
}

// TestOperatorPodNamesTheInstance: in every mode, with and without
// hostNetwork (where HOSTNAME is the node's name), the configuration the
// operator writes, resolved by the collector itself (`print-config`, which
// validates it first) in the pod's environment, names the pod as the
// instance of the collector's own metrics, twice: the service.instance.id
// of its telemetry (which the Prometheus receiver makes the instance of
// every series of prometheus/self, target_info's service_instance_id
// winning over relabelling) and prometheus/self's instance relabelling
// (its `up`); and prometheus/self scrapes the port the telemetry listens
// on. POD_NAME comes from the resource's own env and, without it, from the
// operator's.
func TestOperatorPodNamesTheInstance(t *testing.T) {
	for file, r := range deployCollectors(t) {
		for _, hostNetwork := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/hostNetwork=%v", file, hostNetwork), func(t *testing.T) {
				env, err := r.Env()
				require.NoError(t, err)
				var podName []corev1.EnvVar
				for _, e := range env {
					if e.Name == "POD_NAME" {
						podName = append(podName, e)
					}
				}
				require.Len(t, podName, 1)
				require.Equal(t, "metadata.name", podName[0].ValueFrom.FieldRef.FieldPath)
				require.Contains(t, list(r.Spec, "env"), map[string]any{"name": "POD_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}},
					"declared by the resource itself")

				resolved := resolveInPod(t, r, operatorConfig(t, r), hostNetwork)
				require.Equal(t, testPodName, lookup(resolved, "service", "telemetry", "resource", "service.instance.id"))
				readers := list(resolved, "service", "telemetry", "metrics", "readers")
				require.Len(t, readers, 1)
				prom := lookup(readers[0].(map[string]any), "pull", "exporter", "prometheus").(map[string]any)
				require.Equal(t, "localhost", prom["host"], "the telemetry endpoint stays inside the pod")

				jobs := list(resolved, "receivers", "prometheus/self", "config", "scrape_configs")
				require.Len(t, jobs, 1)
				self := jobs[0].(map[string]any)
				require.Equal(t, "otelcol-eks", self["job_name"])
				static := list(self, "static_configs")
				require.Len(t, static, 1)
				require.Equal(t, []any{fmt.Sprintf("localhost:%v", prom["port"])}, list(static[0].(map[string]any), "targets"),
					"prometheus/self scrapes the telemetry endpoint")
				var instance []any
				for _, rule := range list(self, "relabel_configs") {
					if rule := rule.(map[string]any); rule["target_label"] == "instance" {
						instance = append(instance, rule["replacement"])
					}
				}
				require.Equal(t, []any{testPodName}, instance)
			})
		}
	}

	withoutEnv := deployCollectors(t)["deployment/opentelemetrycollector.yaml"]
	withoutEnv.Spec["env"] = slices.DeleteFunc(slices.Clone(list(withoutEnv.Spec, "env")), func(e any) bool {
		return e.(map[string]any)["name"] == "POD_NAME"
	})
	env, err := withoutEnv.Env()
	require.NoError(t, err)
	require.Contains(t, env, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		"the operator injects POD_NAME when the resource does not")
}

// TestOperatorPodsAreNoScrapeTargets: the pods the operator makes from
// each resource, with the annotations it adds, are no target of any
// kubernetes_sd pod job of any shipped configuration (nor of the
// workshop's own resource): Prometheus' target building (scrape.
// TargetsFromGroup: the jobs' relabelling) over the targets its
// Kubernetes discovery makes of such a pod drops them all. The control:
// without the resources' prometheus.io/scrape "false" and
// disablePrometheusAnnotations, the same pods are targets, the
// health-check port among them.
func TestOperatorPodsAreNoScrapeTargets(t *testing.T) {
	collectors := deployCollectors(t)
	type job struct {
		from string
		cfg  *promconfig.ScrapeConfig
	}
	var jobs []job
	for file, r := range collectors {
		defaulted, _, err := otelop.DefaultConfig(r.Config())
		require.NoError(t, err)
		for _, cfg := range podScrapeJobs(t, resolveInPod(t, r, defaulted, false)) {
			jobs = append(jobs, job{file, cfg})
		}
	}
	workshop := readYAML(t, filepath.Join(repoRoot(t), "testdata", "workshop", "opentelemetrycollector.yaml"))
	workshopRes, err := otelop.ResourceFrom(workshop)
	require.NoError(t, err)
	for _, cfg := range podScrapeJobs(t, resolveInPod(t, workshopRes, workshopRes.Config(), false)) {
		jobs = append(jobs, job{"testdata/workshop", cfg})
	}
	require.GreaterOrEqual(t, len(jobs), 4, "every configuration has its kubernetes-pods job")

	targetsOf := func(pod *corev1.Pod) (n int, ports []string) {
		for _, j := range jobs {
			targets, failures := scrape.TargetsFromGroup(podTargetGroup(pod), j.cfg, nil, labels.NewBuilder(labels.EmptyLabels()))
			require.Empty(t, failures)
			for _, target := range targets {
				if !target.Labels(labels.NewBuilder(labels.EmptyLabels())).IsEmpty() {
					n++
					ports = append(ports, target.DiscoveredLabels(labels.NewBuilder(labels.EmptyLabels())).Get("__address__"))
				}
			}
		}
		return n, ports
	}
	for file, r := range collectors {
		t.Run(file, func(t *testing.T) {
			pod, err := r.Pod(testPodName, testNodeName)
			require.NoError(t, err)
			require.Equal(t, "false", pod.Annotations["prometheus.io/scrape"])
			n, addrs := targetsOf(runningPod(pod))
			require.Zero(t, n, "the operator's pod of %s is a scrape target: %v", file, addrs)

			// The control: the operator's annotations as it adds them to a
			// resource that sets neither.
			bare := otelop.Resource{Name: r.Name, Namespace: r.Namespace, Spec: maps.Clone(r.Spec)}
			delete(bare.Spec, "podAnnotations")
			delete(bare.Spec, "observability")
			pod, err = bare.Pod(testPodName, testNodeName)
			require.NoError(t, err)
			require.Equal(t, "true", pod.Annotations[otelop.PrometheusAnnotationsAddedKey])
			n, addrs = targetsOf(runningPod(pod))
			require.NotZero(t, n, "the control: without the resource's settings the pods are targets")
			require.Contains(t, addrs, testPodIP+":13133", "the control: the health-check port is a target")
		})
	}
}

// podScrapeJobs loads every scrape job of a resolved collector
// configuration that discovers pods, as the Prometheus receiver loads it.
func podScrapeJobs(t *testing.T, resolved map[string]any) []*promconfig.ScrapeConfig {
	t.Helper()
	var out []*promconfig.ScrapeConfig
	receivers, _ := resolved["receivers"].(map[string]any)
	for name, rc := range receivers {
		promCfg, _ := lookup(rc.(map[string]any), "config").(map[string]any)
		if promCfg == nil {
			continue
		}
		data, err := yaml.Marshal(promCfg)
		require.NoError(t, err)
		cfg, err := promconfig.Load(string(data), slog.New(slog.DiscardHandler))
		require.NoError(t, err, "receivers::%s::config", name)
		scrapeConfigs, err := cfg.GetScrapeConfigs()
		require.NoError(t, err)
		for _, sc := range scrapeConfigs {
			for _, sd := range sc.ServiceDiscoveryConfigs {
				if data, _ := yaml.Marshal(sd); strings.Contains(string(data), "role: pod") {
					out = append(out, sc)
				}
			}
		}
	}
	return out
}

// runningPod is pod as the kubelet reports it once it runs.
func runningPod(pod *corev1.Pod) *corev1.Pod {
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: testPodIP, HostIP: "192.168.10.11"}
	return pod
}

// podTargetGroup is what Prometheus' Kubernetes discovery (role pod) makes
// of a pod: discovery/kubernetes/pod.go, buildPod and podLabels, with the
// labels the shipped jobs read. One target per container port, and one
// without a port for a container, init containers included, that declares
// none.
func podTargetGroup(pod *corev1.Pod) *targetgroup.Group {
	const meta = model.MetaLabelPrefix + "kubernetes_"
	tg := &targetgroup.Group{Source: "pod/" + pod.Namespace + "/" + pod.Name, Labels: model.LabelSet{
		meta + "namespace":     model.LabelValue(pod.Namespace),
		meta + "pod_name":      model.LabelValue(pod.Name),
		meta + "pod_ip":        model.LabelValue(pod.Status.PodIP),
		meta + "pod_phase":     model.LabelValue(pod.Status.Phase),
		meta + "pod_node_name": model.LabelValue(pod.Spec.NodeName),
		meta + "pod_host_ip":   model.LabelValue(pod.Status.HostIP),
		meta + "pod_ready":     "true",
	}}
	for k, v := range pod.Labels {
		name := strutil.SanitizeLabelName(k)
		tg.Labels[model.LabelName(meta+"pod_label_"+name)] = model.LabelValue(v)
		tg.Labels[model.LabelName(meta+"pod_labelpresent_"+name)] = "true"
	}
	for k, v := range pod.Annotations {
		name := strutil.SanitizeLabelName(k)
		tg.Labels[model.LabelName(meta+"pod_annotation_"+name)] = model.LabelValue(v)
		tg.Labels[model.LabelName(meta+"pod_annotationpresent_"+name)] = "true"
	}
	containers := append(slices.Clone(pod.Spec.Containers), pod.Spec.InitContainers...)
	for i, c := range containers {
		isInit := fmt.Sprint(i >= len(pod.Spec.Containers))
		if len(c.Ports) == 0 {
			tg.Targets = append(tg.Targets, model.LabelSet{
				model.AddressLabel:                 model.LabelValue(pod.Status.PodIP),
				meta + "pod_container_name":        model.LabelValue(c.Name),
				meta + "pod_container_init":        model.LabelValue(isInit),
				meta + "pod_container_image":       model.LabelValue(c.Image),
				meta + "pod_container_port_number": "",
			})
			continue
		}
		for _, p := range c.Ports {
			tg.Targets = append(tg.Targets, model.LabelSet{
				model.AddressLabel:                   model.LabelValue(fmt.Sprintf("%s:%d", pod.Status.PodIP, p.ContainerPort)),
				meta + "pod_container_name":          model.LabelValue(c.Name),
				meta + "pod_container_init":          model.LabelValue(isInit),
				meta + "pod_container_image":         model.LabelValue(c.Image),
				meta + "pod_container_port_number":   model.LabelValue(fmt.Sprint(p.ContainerPort)),
				meta + "pod_container_port_name":     model.LabelValue(p.Name),
				meta + "pod_container_port_protocol": model.LabelValue(p.Protocol),
			})
		}
	}
	return tg
}

// resolveInPod writes config and has the collector resolve it
// (`print-config --mode=unredacted`, which validates it first) in the
// environment the kubelet gives the container of the operator's pod of r,
// named testPodName on testNode (otelop.ContainerEnv), with the workshop's
// variables for its envFrom.
func resolveInPod(t *testing.T, r otelop.Resource, config map[string]any, hostNetwork bool) map[string]any {
	t.Helper()
	pod, err := r.Pod(testPodName, testNodeName)
	require.NoError(t, err)
	podEnv, err := otelop.ContainerEnv(pod, testNode, hostNetwork)
	require.NoError(t, err)
	env := append(workshopEnv(), podEnv...)
	data, err := yaml.Marshal(config)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	res := runCollectorInPodEnv(t, env, "print-config", "--mode=unredacted", "--config", path)
	require.Equal(t, 0, res.exitCode, "the collector refuses the configuration the operator writes for %s:\n%s", r.Name, res.out)
	var resolved map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(res.out), &resolved), res.out)
	return resolved
}

// configDiff lists the leaf paths where b differs from a, both read as the
// operator reads them (through JSON).
func configDiff(t *testing.T, a, b map[string]any) []string {
	t.Helper()
	norm := func(m map[string]any) map[string]any {
		data, err := json.Marshal(m)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(data, &out))
		return out
	}
	var diffs []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if xok && yok {
			keys := map[string]bool{}
			for k := range xm {
				keys[k] = true
			}
			for k := range ym {
				keys[k] = true
			}
			for _, k := range otelop.SortedKeys(keys) {
				p := strings.TrimPrefix(path+"."+k, ".")
				xv, inX := xm[k]
				yv, inY := ym[k]
				switch {
				case !inY:
					diffs = append(diffs, fmt.Sprintf("%s: removed", p))
				case !inX:
					out, _ := json.Marshal(yv)
					diffs = append(diffs, fmt.Sprintf("%s: added %s", p, out))
				default:
					walk(p, xv, yv)
				}
			}
			return
		}
		xs, _ := json.Marshal(x)
		ys, _ := json.Marshal(y)
		if string(xs) != string(ys) {
			diffs = append(diffs, fmt.Sprintf("%s: %s became %s", path, xs, ys))
		}
	}
	walk("", norm(a), norm(b))
	sort.Strings(diffs)
	return diffs
}
