//go:build e2ek8s

package e2ek8s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-eks/otelcol-eks/test/harness/deployrender"
	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/kubeapiserver"
	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// renderValues are deployrender.ExampleValues: an account ID starting with 0.
var renderValues = deployrender.ExampleValues

// renderVariant renders deploy/<variant> as the README says (environment
// file, `kubectl kustomize`, envsubst with its variables) with renderValues,
// on a copy of deploy/.
func renderVariant(t *testing.T, variant string) string {
	t.Helper()
	kustomize, err := kubeapiserver.Kustomize()
	require.NoError(t, err)
	root, err := workshop.RepoRoot()
	require.NoError(t, err)
	out, err := deployrender.Render(kustomize, root, t.TempDir(), variant, renderValues)
	require.NoError(t, err)
	require.NotContains(t, out, "${OTELCOL_EKS", "deploy/%s: a placeholder the README does not fill", variant)
	return out
}

// applier sends YAML documents to the API server as `kubectl apply
// --server-side` does: a PATCH of type application/apply-patch+yaml whose
// body is the document as rendered, decoded by the API server itself.
type applier struct {
	dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, cfg *rest.Config) *applier {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	return &applier{dynamic: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}
}

// object is what the applier needs to address a document.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (o object) String() string { return o.Kind + "/" + o.Metadata.Name }

// resource is the dynamic client for the document's kind, in its namespace.
func (a *applier) resource(t *testing.T, o object) dynamic.ResourceInterface {
	t.Helper()
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	require.NoError(t, err)
	mapping, err := a.mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version)
	require.NoError(t, err, "the API server does not serve %s %s", o.APIVersion, o.Kind)
	if mapping.Scope.Name() == "namespace" {
		return a.dynamic.Resource(mapping.Resource).Namespace(o.Metadata.Namespace)
	}
	return a.dynamic.Resource(mapping.Resource)
}

// apply applies one document as rendered and returns it as stored.
func (a *applier) apply(t *testing.T, ctx context.Context, doc string) (object, *unstructured.Unstructured) {
	t.Helper()
	var o object
	require.NoError(t, yaml.Unmarshal([]byte(doc), &o), "only to address it; the API server decodes the document")
	force := true
	stored, err := a.resource(t, o).Patch(ctx, o.Metadata.Name, types.ApplyPatchType, []byte(doc),
		metav1.PatchOptions{FieldManager: "kubectl", Force: &force})
	require.NoError(t, err, "the API server refused %s", o)
	return o, stored
}

// operatorCRD is the OpenTelemetry Operator's CustomResourceDefinition for
// OpenTelemetryCollector, verbatim from its repository
// (config/crd/bases/opentelemetry.io_opentelemetrycollectors.yaml at
// v0.158.0, commit 7fb513848c6d4ea79b277352fc13ce11eb734b1a; Apache-2.0): a
// schema, which the API server validates and prunes the resources with.
const (
	operatorCRD       = "testdata/opentelemetry.io_opentelemetrycollectors.yaml"
	operatorCRDSHA256 = "8163dfbd369f5d1fc8128dcf9d85d9592a3ac34cfacd324b88742a5baa96dabf"
)

// installOperatorCRD applies the operator's CRD and waits until the API
// server serves OpenTelemetryCollector.
func (a *applier) installOperatorCRD(t *testing.T, ctx context.Context) {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(operatorCRD))
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, operatorCRDSHA256, hex.EncodeToString(sum[:]), "%s is the operator's file as released; replace it whole", operatorCRD)
	doc := strings.TrimPrefix(string(data), "---\n")
	o, _ := a.apply(t, ctx, doc)
	waitFor(t, time.Minute, "the OpenTelemetryCollector CRD to be established", func() bool {
		crd, err := a.resource(t, o).Get(ctx, o.Metadata.Name, metav1.GetOptions{})
		require.NoError(t, err)
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conditions {
			if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
				return true
			}
		}
		return false
	})
	a.mapper.Reset()
}

// applyRendered applies every document of a rendered variant and returns
// them as stored, by kind/name.
func (a *applier) applyRendered(t *testing.T, ctx context.Context, rendered string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, doc := range deployrender.Documents(rendered) {
		o, stored := a.apply(t, ctx, doc)
		out[o.String()] = stored
	}
	return out
}

// jsonTree reads YAML or an unstructured object as plain JSON values, so
// that the two compare (numbers as float64).
func jsonTree(t *testing.T, v any) map[string]any {
	t.Helper()
	var data []byte
	var err error
	if s, ok := v.(string); ok {
		data, err = yaml.YAMLToJSON([]byte(s))
	} else {
		data, err = json.Marshal(v)
	}
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

// missingFrom lists the paths of sent whose value got lost on the way into
// stored: fields the API server dropped (a CRD's schema prunes fields it
// does not know) or changed. What the server added is not listed.
func missingFrom(sent, stored any, path string) []string {
	switch s := sent.(type) {
	case map[string]any:
		st, ok := stored.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range s {
			out = append(out, missingFrom(v, st[k], path+"."+k)...)
		}
		return out
	case []any:
		st, ok := stored.([]any)
		if !ok || len(st) != len(s) {
			return []string{path}
		}
		var out []string
		for i := range s {
			out = append(out, missingFrom(s[i], st[i], path+"[]")...)
		}
		return out
	default:
		a, _ := json.Marshal(sent)
		b, _ := json.Marshal(stored)
		if string(a) != string(b) {
			return []string{path}
		}
		return nil
	}
}
