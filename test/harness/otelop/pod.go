package otelop

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The annotations the operator adds to every collector pod unless the
// resource sets spec.observability.metrics.disablePrometheusAnnotations,
// never replacing one the resource sets itself
// (internal/manifests/manifestutils/annotations.go, PodAnnotations).
var PrometheusAnnotations = map[string]string{
	"prometheus.io/scrape": "true",
	"prometheus.io/port":   "8888",
	"prometheus.io/path":   "/metrics",
}

// PrometheusAnnotationsAddedKey marks a pod template whose prometheus.io
// annotations the operator added.
const PrometheusAnnotationsAddedKey = "operator.opentelemetry.io/prometheus-annotations-added"

// ContainerName is the collector container's name (internal/naming:
// Container).
const ContainerName = "otc-container"

// Resource is the part of an OpenTelemetryCollector the pod is made from.
type Resource struct {
	Name, Namespace string
	Spec            map[string]any
}

// ResourceFrom reads an OpenTelemetryCollector document.
func ResourceFrom(doc map[string]any) (Resource, error) {
	meta, _ := doc["metadata"].(map[string]any)
	spec, _ := doc["spec"].(map[string]any)
	if doc["kind"] != "OpenTelemetryCollector" || meta == nil || spec == nil {
		return Resource{}, fmt.Errorf("not an OpenTelemetryCollector with metadata and spec: kind %v", doc["kind"])
	}
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	return Resource{Name: name, Namespace: ns, Spec: spec}, nil
}

// Mode is spec.mode (deployment when unset, as the webhook defaults it).
func (r Resource) Mode() string {
	if m, _ := r.Spec["mode"].(string); m != "" {
		return m
	}
	return "deployment"
}

// Config is spec.config.
func (r Resource) Config() map[string]any {
	c, _ := r.Spec["config"].(map[string]any)
	return c
}

// PodAnnotations are the collector pod's annotations: spec.podAnnotations,
// then the operator's Prometheus annotations where the resource set none
// (the configuration hash annotation is left out: nothing here reads it).
func (r Resource) PodAnnotations() map[string]string {
	out := map[string]string{}
	if pa, ok := r.Spec["podAnnotations"].(map[string]any); ok {
		for k, v := range pa {
			out[k] = fmt.Sprint(v)
		}
	}
	disabled, _ := Lookup(r.Spec, "observability", "metrics", "disablePrometheusAnnotations").(bool)
	if disabled {
		return out
	}
	stamped := false
	for k, v := range PrometheusAnnotations {
		if _, set := out[k]; !set {
			out[k] = v
			stamped = true
		}
	}
	if stamped {
		out[PrometheusAnnotationsAddedKey] = "true"
	}
	return out
}

// Labels are the collector pod's labels (internal/manifests/manifestutils/
// labels.go, Labels with component opentelemetry-collector).
func (r Resource) Labels() map[string]string {
	version := "latest"
	image, _ := r.Spec["image"].(string)
	if parts := strings.Split(image, ":"); len(parts) == 2 {
		version = parts[1]
	}
	return map[string]string{
		"app.kubernetes.io/managed-by": "opentelemetry-operator",
		"app.kubernetes.io/instance":   r.Namespace + "." + r.Name,
		"app.kubernetes.io/part-of":    "opentelemetry",
		"app.kubernetes.io/component":  "opentelemetry-collector",
		"app.kubernetes.io/name":       r.Name + "-collector",
		"app.kubernetes.io/version":    version,
	}
}

// Env is the collector container's environment
// (internal/manifests/collector/container.go, getContainerEnvVars): the
// resource's env, then what the operator infers, each unless the resource
// defines a variable of that name: POD_NAME, and GOMEMLIMIT and GOMAXPROCS
// from the container's limits (the operator.golang.flags gate, stable in
// 0.158). deploy/'s receivers add none (the prometheus receiver asks for no
// variables).
func (r Resource) Env() ([]corev1.EnvVar, error) {
	var env []corev1.EnvVar
	if err := DecodeField(r.Spec, "env", &env); err != nil {
		return nil, err
	}
	defined := map[string]bool{}
	for _, e := range env {
		defined[e.Name] = true
	}
	inferred := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", ContainerName: ContainerName}}},
		{Name: "GOMAXPROCS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", ContainerName: ContainerName}}},
	}
	for _, e := range inferred {
		if !defined[e.Name] {
			env = append(env, e)
		}
	}
	return env, nil
}

// Ports are the collector container's ports (container.go,
// getConfigContainerPorts): one per port the operator parses out of the
// enabled components (of deploy/'s, only health_check's endpoint), and
// "metrics", the telemetry endpoint's port (8888 when the operator cannot
// read service.telemetry), sorted by name.
func (r Resource) Ports() []corev1.ContainerPort {
	config := r.Config()
	service, _ := config["service"].(map[string]any)
	var ports []corev1.ContainerPort
	for _, name := range enabledComponents(service)["extensions"] {
		if componentType(name) != "health_check" {
			continue
		}
		port := int32(13133)
		endpoint, _ := Lookup(config, "extensions", name, "endpoint").(string)
		if i := strings.LastIndex(endpoint, ":"); i >= 0 {
			var p int32
			if _, err := fmt.Sscan(endpoint[i+1:], &p); err == nil {
				port = p
			}
		}
		ports = append(ports, corev1.ContainerPort{Name: portName(name, port), ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	metricsPort := int32(DefaultMetricsPort)
	if tel, ok := ReadTelemetry(service); ok {
		_, metricsPort = tel.MetricsReaderEndpoint()
	}
	ports = append(ports, corev1.ContainerPort{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP})
	slices.SortFunc(ports, func(a, b corev1.ContainerPort) int { return strings.Compare(a.Name, b.Name) })
	return ports
}

// portName is internal/naming/port.go PortName, for the names used here.
func portName(component string, port int32) string {
	if len(component) > 15 {
		return fmt.Sprintf("port-%d", port)
	}
	return strings.NewReplacer("/", "-", "_", "-").Replace(component)
}

// Pod is the collector pod the operator's workload (Deployment, DaemonSet
// or StatefulSet: internal/manifests/collector/{deployment,daemonset,
// statefulset}.go, container.go, volume.go) makes from the resource, named
// name, on node: what the kubelet runs and Prometheus' Kubernetes
// discovery sees. In statefulset mode each volumeClaimTemplate becomes the
// pod's claim <template>-<pod>, as the StatefulSet controller names it.
func (r Resource) Pod(name, node string) (*corev1.Pod, error) {
	env, err := r.Env()
	if err != nil {
		return nil, err
	}
	c := corev1.Container{
		Name:         ContainerName,
		Image:        fmt.Sprint(r.Spec["image"]),
		Args:         []string{"--config=/conf/collector.yaml"},
		Env:          env,
		Ports:        r.Ports(),
		VolumeMounts: []corev1.VolumeMount{{Name: "otc-internal", MountPath: "/conf"}},
	}
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	var claims []corev1.PersistentVolumeClaim
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: r.Namespace,
			Labels: r.Labels(), Annotations: r.PodAnnotations(),
		},
		Spec: corev1.PodSpec{NodeName: node},
	}
	for field, into := range map[string]any{
		"envFrom": &c.EnvFrom, "resources": &c.Resources, "securityContext": &c.SecurityContext,
		"volumeMounts": &mounts, "volumes": &volumes, "volumeClaimTemplates": &claims,
		"initContainers": &pod.Spec.InitContainers, "podSecurityContext": &pod.Spec.SecurityContext,
	} {
		if err := DecodeField(r.Spec, field, into); err != nil {
			return nil, err
		}
	}
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	pod.Spec.Containers = []corev1.Container{c}
	pod.Spec.ServiceAccountName, _ = r.Spec["serviceAccount"].(string)
	pod.Spec.HostNetwork, _ = r.Spec["hostNetwork"].(bool)
	configMap := corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: r.Name + "-collector"}}
	pod.Spec.Volumes = append([]corev1.Volume{{Name: "otc-internal", VolumeSource: corev1.VolumeSource{ConfigMap: &configMap}}}, volumes...)
	if r.Mode() == "statefulset" {
		for _, claim := range claims {
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name + "-" + name},
			}})
		}
	}
	return pod, nil
}

// TargetAllocatorConfig is spec.config as the operator writes it into the
// collector's ConfigMap when the target allocator is on
// (internal/manifests/collector/config_replace.go, ReplaceConfig, and
// targetallocator/adapters/config_to_prom_config.go,
// AddTAConfigToPromConfig): the receiver named exactly `prometheus` loses
// its scrape_configs and polls the allocator for its targets; every other
// receiver is left as it is.
func (r Resource) TargetAllocatorConfig(config map[string]any) (map[string]any, error) {
	out, err := deepCopy(config)
	if err != nil {
		return nil, err
	}
	prom, ok := Lookup(out, "receivers", "prometheus").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the target allocator needs a receiver named prometheus")
	}
	if pc, ok := prom["config"].(map[string]any); ok {
		delete(pc, "scrape_configs")
	}
	ta, _ := prom["target_allocator"].(map[string]any)
	if ta == nil {
		ta = map[string]any{}
	}
	ta["endpoint"] = fmt.Sprintf("http://%s-targetallocator:80", r.Name)
	ta["interval"] = "30s" // collectorTargetReloadInterval's default
	ta["collector_id"] = "${POD_NAME}"
	prom["target_allocator"] = ta
	return out, nil
}

// Lookup follows keys through nested maps of a YAML or JSON tree; nil when
// a step is missing.
func Lookup(doc map[string]any, keys ...string) any {
	var cur any = doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// DecodeField decodes spec[field], if present, into out (a pointer to the
// Kubernetes type), as the API server's schema would.
func DecodeField(spec map[string]any, field string, out any) error {
	v, ok := spec[field]
	if !ok {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode spec.%s: %w", field, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("cannot decode spec.%s: %w", field, err)
	}
	return nil
}

// SortedKeys lists a map's keys in order (for messages).
func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Node stands for the node a pod runs on, for what the kubelet resolves
// from it.
type Node struct {
	Name string
	// Allocatable CPU and memory: what a resourceFieldRef to a limit the
	// container does not set resolves to.
	CPU, Memory resource.Quantity
}

// ContainerEnv is the collector container's environment as the kubelet
// sets it, NAME=value, for the sources the resources use: the downward API
// (metadata.name, spec.nodeName, limits.cpu rounded up, limits.memory in
// bytes) and HOSTNAME, which is the pod's name, or the node's in a
// hostNetwork pod. envFrom is left to the caller.
func ContainerEnv(pod *corev1.Pod, node Node, hostNetwork bool) ([]string, error) {
	hostname := pod.Name
	if hostNetwork {
		hostname = node.Name
	}
	out := []string{"HOSTNAME=" + hostname}
	c := pod.Spec.Containers[0]
	for _, e := range c.Env {
		v, err := envValue(pod, c, node, e)
		if err != nil {
			return nil, err
		}
		out = append(out, e.Name+"="+v)
	}
	return out, nil
}

func envValue(pod *corev1.Pod, c corev1.Container, node Node, e corev1.EnvVar) (string, error) {
	switch {
	case e.ValueFrom == nil:
		return e.Value, nil
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
		return pod.Name, nil
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName":
		return node.Name, nil
	case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			q = node.Memory
		}
		return fmt.Sprint(q.Value()), nil
	case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.cpu":
		q, ok := c.Resources.Limits[corev1.ResourceCPU]
		if !ok {
			q = node.CPU
		}
		return fmt.Sprint((q.MilliValue() + 999) / 1000), nil
	}
	return "", fmt.Errorf("otelop cannot resolve %s from %+v", e.Name, e.ValueFrom)
}

// OperatorConfig is the collector configuration the operator writes into
// the resource's ConfigMap: spec.config after its admission defaulting
// (DefaultConfig) and, with the target allocator enabled, its rewrite of
// the prometheus receiver (TargetAllocatorConfig).
func (r Resource) OperatorConfig() (map[string]any, error) {
	cfg, _, err := DefaultConfig(r.Config())
	if err != nil {
		return nil, err
	}
	if enabled, _ := Lookup(r.Spec, "targetAllocator", "enabled").(bool); enabled {
		return r.TargetAllocatorConfig(cfg)
	}
	return cfg, nil
}
