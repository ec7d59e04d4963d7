//go:build e2e

package dist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/otelcol-eks/otelcol-eks/test/harness/deployrender"
	"github.com/otelcol-eks/otelcol-eks/test/harness/otelop"
)

// manifest is one YAML document of a file under deploy/.
type manifest struct {
	file string // relative to deploy/
	doc  map[string]any
}

func (m manifest) kind() string { return str(m.doc, "kind") }
func (m manifest) name() string { return str(m.doc, "metadata", "name") }

// knownKinds are the kinds deploy/ may hold, by apiVersion: anything else
// is a typo or a kind the test does not check.
var knownKinds = map[string][]string{
	"v1":                              {"ServiceAccount", "ConfigMap"},
	"rbac.authorization.k8s.io/v1":    {"ClusterRole", "ClusterRoleBinding"},
	"opentelemetry.io/v1beta1":        {"OpenTelemetryCollector"},
	"kustomize.config.k8s.io/v1beta1": {"Kustomization"},
}

// rulesDir holds Prometheus rule files (for AMP's rules API), not
// Kubernetes objects: TestDeployRules checks them.
const rulesDir = "rules"

// deployManifests parses every YAML file under deploy/ but the rule files
// (multi-document), failing on a document that is not a known kind.
func deployManifests(t *testing.T) []manifest {
	t.Helper()
	root := filepath.Join(repoRoot(t), "deploy")
	var out []manifest
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(rel, rulesDir+string(filepath.Separator)) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "%s: document %d does not parse", rel, i)
			if doc == nil {
				continue
			}
			m := manifest{file: rel, doc: doc}
			api := str(doc, "apiVersion")
			require.Contains(t, knownKinds[api], m.kind(), "%s: document %d is %s %s, not a kind deploy/ should hold", rel, i, api, m.kind())
			if m.kind() != "Kustomization" {
				require.NotEmpty(t, m.name(), "%s: document %d has no metadata.name", rel, i)
			}
			out = append(out, m)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

// TestDeployKustomizations: every kustomization names files and folders
// that exist, every manifest file is used by one, and the dashboards it
// generates are Grafana dashboards labelled for the sidecar.
func TestDeployKustomizations(t *testing.T) {
	root := filepath.Join(repoRoot(t), "deploy")
	used := map[string]bool{}
	var dashboards []string
	for _, m := range deployManifests(t) {
		if m.kind() != "Kustomization" {
			continue
		}
		dir := filepath.Dir(m.file)
		for _, r := range list(m.doc, "resources") {
			rel := filepath.Join(dir, r.(string))
			st, err := os.Stat(filepath.Join(root, rel))
			require.NoError(t, err, "%s: resource %s", m.file, r)
			if st.IsDir() {
				_, err := os.Stat(filepath.Join(root, rel, "kustomization.yaml"))
				require.NoError(t, err, "%s: resource folder %s has no kustomization.yaml", m.file, r)
			}
			used[rel] = true
		}
		for _, g := range list(m.doc, "configMapGenerator") {
			if envs := list(g.(map[string]any), "envs"); envs != nil {
				// The collector's environment, from the file the README
				// writes (TestDeployEnvironment).
				require.Equal(t, "otelcol-eks-env", g.(map[string]any)["name"], m.file)
				require.Len(t, envs, 1, m.file)
				require.Equal(t, deployrender.EnvFile, filepath.Join(dir, envs[0].(string)), m.file)
				require.Equal(t, true, lookup(m.doc, "generatorOptions", "disableNameSuffixHash"), "%s: the collectors name otelcol-eks-env as it is", m.file)
				continue
			}
			for _, f := range list(g.(map[string]any), "files") {
				path := filepath.Join(root, dir, f.(string))
				data, err := os.ReadFile(path)
				require.NoError(t, err, "%s: generator file %s", m.file, f)
				var dash struct {
					Title  string `json:"title"`
					Panels []struct {
						Targets []struct {
							Expr string `json:"expr"`
						} `json:"targets"`
					} `json:"panels"`
				}
				require.NoError(t, json.Unmarshal(data, &dash), "%s is not JSON", f)
				require.NotEmpty(t, dash.Title, "%s: dashboard without title", f)
				var exprs []string
				for _, p := range dash.Panels {
					for _, target := range p.Targets {
						exprs = append(exprs, target.Expr)
					}
				}
				require.NotEmpty(t, exprs, "%s: dashboard without queries", f)
				dashboards = append(dashboards, strings.Join(exprs, "\n"))
			}
			if list(g.(map[string]any), "files") != nil {
				require.Equal(t, "1", str(m.doc, "generatorOptions", "labels", "grafana_dashboard"), "%s: the Grafana sidecar loads ConfigMaps labelled grafana_dashboard: \"1\"", m.file)
			}
		}
	}
	for _, m := range deployManifests(t) {
		if m.kind() != "Kustomization" {
			require.True(t, used[m.file], "%s is in no kustomization's resources", m.file)
		}
	}
	require.Len(t, dashboards, 3)
	all := strings.Join(dashboards, "\n")
	require.True(t, strings.Contains(all, `sum by(productId)(watch_orders_total{productId!="*"})`), "the Order Service Metrics dashboard's query is missing")
	for _, label := range []string{"workload)", "nodegroup)", "zone)"} {
		require.True(t, strings.Contains(all, ", "+label) || strings.Contains(all, "by ("+label),
			"the cluster dashboard must group by k8smeta's %s label", strings.TrimSuffix(label, ")"))
	}
	require.True(t, strings.Contains(all, `otelcol_remote_write_queue_oldest_age{job="otelcol-eks"`), "the collector dashboard's queue age panel is missing")
}

// TestDeployRules: deploy/rules/ holds Prometheus rule files only, which
// promtool (Prometheus' own loader, as AMP's rules API validates them)
// accepts, and no kustomization lists them: they are uploaded to AMP
// (deploy/README.md#alerting-rules), not applied to the cluster.
func TestDeployRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool ships with Prometheus: apt-get install -y prometheus")
	dir := filepath.Join(repoRoot(t), "deploy", rulesDir)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		require.True(t, strings.HasSuffix(f, ".yaml"), "%s: deploy/rules/ holds rule files (.yaml) only", f)
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		require.NoError(t, err, "promtool check rules %s:\n%s", f, out)
		require.Contains(t, string(out), "SUCCESS")
	}
	for _, m := range deployManifests(t) {
		for _, r := range list(m.doc, "resources") {
			require.NotContains(t, filepath.Join(filepath.Dir(m.file), r.(string)), rulesDir, "%s lists a rule file: it is no Kubernetes object", m.file)
		}
	}
}

// TestDeployRBAC: least privilege, as deploy/base/clusterrole.yaml states
// it: read-only verbs everywhere; what k8smeta's README asks for its
// default extraction plus node topology; kubelet access only where the
// variant's jobs need it.
func TestDeployRBAC(t *testing.T) {
	type grant struct{ group, resource, verb string }
	roles := map[string]map[grant]bool{} // ClusterRole name -> grants
	var bindings []manifest
	accounts := map[string]bool{}
	for _, m := range deployManifests(t) {
		switch m.kind() {
		case "ClusterRole":
			g := map[grant]bool{}
			for _, r := range list(m.doc, "rules") {
				rule := r.(map[string]any)
				require.Empty(t, rule["nonResourceURLs"], "%s: %s: no job scrapes the API server", m.file, m.name())
				for _, group := range list(rule, "apiGroups") {
					for _, res := range list(rule, "resources") {
						for _, verb := range list(rule, "verbs") {
							require.Contains(t, []string{"get", "list", "watch"}, verb, "%s: %s", m.file, m.name())
							require.NotEqual(t, "*", res, "%s: %s", m.file, m.name())
							g[grant{group.(string), res.(string), verb.(string)}] = true
						}
					}
				}
			}
			roles[m.name()] = g
		case "ClusterRoleBinding":
			bindings = append(bindings, m)
		case "ServiceAccount":
			accounts[m.name()] = true
		}
	}
	f := func(role string, want []grant) {
		t.Helper()
		got := roles[role]
		require.NotNil(t, got, "ClusterRole %s missing", role)
		var gotList []grant
		for g := range got {
			gotList = append(gotList, g)
		}
		require.ElementsMatch(t, want, gotList, "ClusterRole %s", role)
	}
	read := func(group, res string) []grant {
		return []grant{{group, res, "get"}, {group, res, "list"}, {group, res, "watch"}}
	}
	f("otelcol-eks", slices.Concat(read("", "pods"), read("", "nodes"), []grant{{"apps", "replicasets", "get"}}))
	f("otelcol-eks-kubelet-proxy", []grant{{"", "nodes/proxy", "get"}})
	f("otelcol-eks-kubelet-metrics", []grant{{"", "nodes/metrics", "get"}})
	f("otelcol-eks-targetallocator", slices.Concat(read("", "pods"), read("", "nodes")))

	for _, b := range bindings {
		require.Contains(t, roles, str(b.doc, "roleRef", "name"), "%s: binds a ClusterRole deploy/ does not define", b.file)
		for _, s := range list(b.doc, "subjects") {
			sub := s.(map[string]any)
			require.Equal(t, "ServiceAccount", sub["kind"], b.file)
			require.True(t, accounts[sub["name"].(string)], "%s: subject %v is not a ServiceAccount of deploy/", b.file, sub["name"])
			require.Equal(t, "other", sub["namespace"], "%s: the variants deploy to namespace other", b.file)
		}
	}
	for _, m := range deployManifests(t) {
		if m.kind() == "Kustomization" && str(m.doc, "namespace") != "" {
			require.Equal(t, "other", str(m.doc, "namespace"), m.file)
		}
		if m.kind() == "ServiceAccount" && m.name() == "otelcol-eks" {
			require.Equal(t, "${OTELCOL_EKS_ROLE_ARN}", str(m.doc, "metadata", "annotations", "eks.amazonaws.com/role-arn"), "IRSA annotation")
		}
	}
}

// TestDeployEnvironment: what deploy/README.md's apply step fills in. The
// variables the collectors read from otelcol-eks-env are exactly those the
// README writes to deploy/base/environment.env, from which kustomize
// generates the ConfigMap, quoting each value YAML would read as something
// else (an account ID such as 012345678901). The ${NAME} placeholders left
// in deploy/'s YAML are exactly the README's envsubst list, each in a
// field whose value stays a string whatever the account, region or tag
// (an image reference, an IAM role ARN): kustomize re-emits every scalar
// without quotes, so quoting a placeholder in the YAML does not survive to
// envsubst. test/e2ek8s applies the rendered text.
func TestDeployEnvironment(t *testing.T) {
	root := repoRoot(t)
	envFile, err := deployrender.READMEEnvFile(root)
	require.NoError(t, err)
	defined := map[string]bool{}
	for _, m := range deployManifests(t) {
		for _, e := range list(m.doc, "spec", "env") {
			defined[e.(map[string]any)["name"].(string)] = true
		}
	}
	needed := map[string]bool{}
	for _, f := range []string{"workshop.yaml", "daemonset.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "configs", f))
		require.NoError(t, err)
		for _, m := range envReference.FindAllStringSubmatch(string(data), -1) {
			if m[2] == "" && !defined[m[1]] { // no default, not from the resource's env
				needed[m[1]] = true
			}
		}
	}
	require.ElementsMatch(t, slices.Sorted(maps.Keys(needed)), envFile,
		"the README's environment.env and the variables the configurations read from otelcol-eks-env")

	vars, err := deployrender.READMEVariables(root)
	require.NoError(t, err)
	values := map[string]string{
		"OTELCOL_EKS_IMAGE":    "012345678901.dkr.ecr.us-west-2.amazonaws.com/otelcol-eks:0.1.0",
		"OTELCOL_EKS_ROLE_ARN": "arn:aws:iam::012345678901:role/otelcol-eks",
	}
	used := map[string]bool{}
	for _, m := range deployManifests(t) {
		walkStrings(m.doc, "", func(path, s string) {
			for _, ref := range placeholder.FindAllStringSubmatch(s, -1) {
				name := ref[1]
				used[name] = true
				require.Contains(t, vars, name, "%s: %s: ${%s} is not in the README's envsubst list", m.file, path, name)
				rendered := deployrender.Envsubst(s, vars, values)
				var decoded map[string]any
				require.NoError(t, k8syaml.Unmarshal([]byte("v: "+rendered), &decoded))
				require.IsType(t, "", decoded["v"], "%s: %s: %q is no string to kubectl", m.file, path, rendered)
			}
		})
	}
	require.ElementsMatch(t, vars, slices.Sorted(maps.Keys(used)), "the README's envsubst list and deploy/'s placeholders")
}

// envReference is the collector's ${env:NAME} or ${env:NAME:-default}.
var envReference = regexp.MustCompile(`\$\{env:([A-Z_][A-Z0-9_]*)(:-[^}]*)?\}`)

// placeholder is an envsubst ${NAME} (not the collector's ${env:...}, not
// a relabel $${1}, not Grafana's lower-case ${datasource}).
var placeholder = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// walkStrings calls f with every string in a YAML tree and its path.
func walkStrings(v any, path string, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case map[string]any:
		for k, val := range x {
			walkStrings(val, path+"."+k, f)
		}
	case []any:
		for i, val := range x {
			walkStrings(val, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

// TestDeployCollectorsValidate: each OpenTelemetryCollector runs our image
// placeholder as the shipped ServiceAccount, has k8smeta in its metrics
// pipeline, carries the configs/ file it says it does, keeps the
// workshop's kubernetes-pods relabelling unchanged, and its spec.config
// passes `otelcol-eks validate` in a pod with the workshop's environment.
func TestDeployCollectorsValidate(t *testing.T) {
	workshop := workshopPodRelabelling(t, readYAML(t, filepath.Join(repoRoot(t), "testdata", "workshop", "opentelemetrycollector.yaml")))
	want := map[string]struct{ mode, config string }{
		"deployment/opentelemetrycollector.yaml":  {"deployment", "workshop.yaml"},
		"daemonset/opentelemetrycollector.yaml":   {"daemonset", "daemonset.yaml"},
		"statefulset/opentelemetrycollector.yaml": {"statefulset", "workshop.yaml"},
	}
	seen := 0
	for _, m := range deployManifests(t) {
		if m.kind() != "OpenTelemetryCollector" {
			continue
		}
		seen++
		t.Run(m.file, func(t *testing.T) {
			w, ok := want[m.file]
			require.True(t, ok, "unexpected collector %s", m.file)
			spec := m.doc["spec"].(map[string]any)
			require.Equal(t, w.mode, spec["mode"])
			require.Equal(t, "${OTELCOL_EKS_IMAGE}", spec["image"], "one image placeholder everywhere (deploy/README.md)")
			require.Equal(t, "otelcol-eks", spec["serviceAccount"])
			config := spec["config"].(map[string]any)
			require.Contains(t, list(config, "service", "pipelines", "metrics", "processors"), "k8smeta")

			if os.Getenv("UPDATE_GOLDEN") != "" {
				config = syncSpecConfig(t, filepath.Join(repoRoot(t), "deploy", m.file), filepath.Join(repoRoot(t), "configs", w.config))
			}
			fromConfigs := readYAML(t, filepath.Join(repoRoot(t), "configs", w.config))
			require.Equal(t, fromConfigs, config, "spec.config must equal configs/%s: run `make golden` (UPDATE_GOLDEN=1) to copy it", w.config)
			require.Equal(t, workshop, workshopPodRelabelling(t, m.doc), "the workshop's kubernetes-pods relabel_configs, unchanged")

			switch w.mode {
			case "daemonset":
				var nodeName map[string]any
				for _, e := range list(spec, "env") {
					if env := e.(map[string]any); env["name"] == "K8S_NODE_NAME" {
						nodeName = env
					}
				}
				require.Equal(t, "spec.nodeName", str(nodeName, "valueFrom", "fieldRef", "fieldPath"), "K8S_NODE_NAME from the downward API")
			case "statefulset":
				require.Equal(t, true, spec["targetAllocator"].(map[string]any)["enabled"])
				require.Equal(t, "consistent-hashing", str(spec, "targetAllocator", "allocationStrategy"))
			}

			data, err := yaml.Marshal(config)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "collector.yaml")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			res := runCollectorInPod(t, "validate", "--config", path)
			require.Equal(t, 0, res.exitCode, "spec.config of %s must validate:\n%s", m.file, res.out)
		})
	}
	require.Equal(t, len(want), seen)
}

// specConfigLine starts spec.config in deploy/'s OpenTelemetryCollector
// files, which keep it last so that everything after it is the config.
const specConfigLine = "\n  config:\n"

// syncSpecConfig rewrites the spec.config of the OpenTelemetryCollector in
// manifest as a copy of the configuration file source (without its leading
// comment block, which the manifest's own comment replaces), and returns
// the new config.
func syncSpecConfig(t *testing.T, manifest, source string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(manifest)
	require.NoError(t, err)
	head, _, found := strings.Cut(string(data), specConfigLine)
	require.True(t, found, "%s: no spec.config", manifest)
	src, err := os.ReadFile(source)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	for len(lines) > 0 && (strings.HasPrefix(lines[0], "#") || strings.TrimSpace(lines[0]) == "") {
		lines = lines[1:]
	}
	var out strings.Builder
	out.WriteString(head + specConfigLine)
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out.WriteString("    " + l)
		}
		out.WriteString("\n")
	}
	require.NoError(t, os.WriteFile(manifest, []byte(out.String()), 0o644))
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out.String()), &doc))
	return doc["spec"].(map[string]any)["config"].(map[string]any)
}

// workshopPodRelabelling returns the relabel_configs of the kubernetes-pods
// job of an OpenTelemetryCollector document.
func workshopPodRelabelling(t *testing.T, doc map[string]any) []any {
	t.Helper()
	for _, j := range list(doc, "spec", "config", "receivers", "prometheus", "config", "scrape_configs") {
		if job := j.(map[string]any); job["job_name"] == "kubernetes-pods" {
			rules := list(job, "relabel_configs")
			require.NotEmpty(t, rules)
			return rules
		}
	}
	t.Fatalf("no kubernetes-pods job")
	return nil
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc), path)
	return doc
}

// lookup follows keys through nested maps; nil when a step is missing.
var lookup = otelop.Lookup

func str(doc map[string]any, keys ...string) string {
	s, _ := lookup(doc, keys...).(string)
	return s
}

func list(doc map[string]any, keys ...string) []any {
	l, _ := lookup(doc, keys...).([]any)
	return l
}
