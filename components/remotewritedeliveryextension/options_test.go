package remotewritedeliveryextension

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	prwexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/sigv4authextension"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelcol-eks/otelcol-eks/components/remotewritedeliveryextension/internal/metadata"
)

// optionsOf lists the options of the configuration struct v as a user
// writes them, named by the struct tag tag (mapstructure or yaml): a
// sub-block's options nested as block::option, squashed structs at their
// parent's level. Each maps to its value in v.
func optionsOf(v reflect.Value, tag string) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, flags, _ := strings.Cut(f.Tag.Get(tag), ",")
			switch {
			case f.Name == "_" || name == "-":
			case name == "" && strings.Contains(flags, "squash") && f.Type.Kind() == reflect.Struct:
				walk(v.Field(i), prefix)
			case name != "":
				out[prefix+name] = v.Field(i)
				if isBlock(f.Type, tag) {
					walk(v.Field(i), prefix+name+"::")
				}
			}
		}
	}
	walk(v, "")
	return out
}

// isBlock tells a sub-block (a struct with tagged fields) from a value
// that happens to be a struct (component.ID).
func isBlock(t reflect.Type, tag string) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Tag.Get(tag) != "" {
			return true
		}
	}
	return false
}

// ourOptions are remote_write_delivery's options with their defaults.
func ourOptions() map[string]reflect.Value {
	return optionsOf(reflect.ValueOf(createDefaultConfig()).Elem(), "mapstructure")
}

// foreignOptions are the options of other components that the extension's
// messages name, each found in that component's own configuration type
// (so that a renamed or stale one fails too). An option not listed here
// and not remote_write_delivery's own fails TestMessagesNameRealOptions.
func foreignOptions(t *testing.T) map[string]bool {
	t.Helper()
	owners := map[string]map[string]reflect.Value{
		"the exporter":    optionsOf(reflect.ValueOf(prwexporter.Config{}), "mapstructure"),
		"sigv4auth":       optionsOf(reflect.ValueOf(sigv4authextension.Config{}), "mapstructure"),
		"a scrape config": optionsOf(reflect.ValueOf(promconfig.ScrapeConfig{}), "yaml"),
		"the collector":   optionsOf(reflect.ValueOf(otelcol.Config{}), "mapstructure"),
	}
	named := map[string]string{
		"max_batch_size_bytes":     "the exporter",
		"external_labels":          "the exporter",
		"assume_role":              "sigv4auth",
		"label_limit":              "a scrape config",
		"label_name_length_limit":  "a scrape config",
		"label_value_length_limit": "a scrape config",
		"service::extensions":      "the collector",
	}
	out := map[string]bool{}
	for name, owner := range named {
		_, ok := owners[owner][name]
		require.True(t, ok, "%s has no option %q", owner, name)
		out[name] = true
	}
	return out
}

// sourceTexts returns every string literal of the package's non-test Go
// files (what its logs, hints and errors are made of; struct tags and
// import paths left out), and the keys of its zap fields.
func sourceTexts(t *testing.T) (texts []string, logKeys map[string]bool) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	logKeys = map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		skip := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if n.Tag != nil {
					skip[n.Tag] = true
				}
			case *ast.ImportSpec:
				skip[n.Path] = true
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) > 0 {
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "zap" {
						if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							key, err := strconv.Unquote(lit.Value)
							require.NoError(t, err)
							logKeys[key] = true
							skip[lit] = true
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING && !skip[n] {
					s, err := strconv.Unquote(n.Value)
					require.NoError(t, err)
					texts = append(texts, s)
				}
			}
			return true
		})
	}
	require.NotEmpty(t, texts)
	return texts, logKeys
}

// hintTexts are the hints as the sender composes them, for every cause and
// with one and several requests in flight.
func hintTexts() []string {
	var out []string
	sent, _ := http.NewRequest(http.MethodPost, "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws/api/v1/remote_write", nil)
	sent.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/eu-west-1/aps/aws4_request, SignedHeaders=host, Signature=00")
	unsigned, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/api/v1/remote_write", nil)
	reasons := []string{"credentials"}
	reasons = append(reasons, dropReasons...)
	for _, maxInFlight := range []int{1, 4} {
		cfg := createDefaultConfig()
		cfg.MaxInFlight = maxInFlight
		s := &sender{cfg: cfg, env: func(string) string { return "" }}
		for _, reason := range reasons {
			out = append(out, s.hint(cause{400, reason}, sent, []byte("body")), s.hint(cause{403, reason}, unsigned, nil))
		}
	}
	for _, env := range []map[string]string{
		{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SESSION_TOKEN": "t"},
		{"AWS_PROFILE": "p"},
		{"AWS_ROLE_ARN": "arn", "AWS_WEB_IDENTITY_TOKEN_FILE": "/f"},
		{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://x"},
		{},
	} {
		out = append(out, credentialsSource(func(k string) string { return env[k] }))
	}
	return out
}

// optionLike finds the words a message could use for an option:
// snake_case words and block::option paths.
var optionLike = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:::[a-z][a-z0-9_]*)*\b|\b[a-z][a-z0-9_]*(?:::[a-z][a-z0-9_]*)+\b`)

// TestMessagesNameRealOptions: every option a log message, hint or error of
// the extension names is one of its own (from the Config's mapstructure
// tags) or a listed option of another component that exists there. The
// other snake_case words allowed are derived from the code: the
// component's type, the reasons of its counters and the keys of its log
// fields.
func TestMessagesNameRealOptions(t *testing.T) {
	ours := ourOptions()
	foreign := foreignOptions(t)
	texts, logKeys := sourceTexts(t)
	texts = append(texts, hintTexts()...)
	known := map[string]bool{metadata.Type.String(): true}
	for _, r := range slices.Concat(dropReasons, retryReasons) {
		known[r] = true
	}
	seen := map[string]bool{}
	for _, text := range texts {
		for _, word := range optionLike.FindAllString(text, -1) {
			_, own := ours[word]
			require.True(t, own || foreign[word] || known[word] || logKeys[word],
				"%q names %q: not an option of remote_write_delivery (%s), nor a listed option of another component, a reason or a log field",
				text, word, strings.Join(slices.Sorted(maps.Keys(ours)), ", "))
			seen[word] = true
		}
	}
	// The check reads the options it should: the messages name these.
	for _, want := range []string{"max_in_flight", "retry::credentials_interval", "max_age", "max_size_mib", "max_batch_size_bytes"} {
		require.True(t, seen[want], "no message names %s: the scan misses messages", want)
	}
}

// TestStatedDefaultsMatch: every default stated for an option, in a
// message ("option (default X)"), in the Config's field docs ("Default:
// X.") and in the README (its option table and "`option` (X)" in prose),
// reads as a value of the option and is createDefaultConfig's; the
// README's table lists every option once.
func TestStatedDefaultsMatch(t *testing.T) {
	ours := ourOptions()
	f := func(where, option, stated string) {
		t.Helper()
		v, ok := ours[option]
		require.True(t, ok, "%s: %q is not an option", where, option)
		want, ok := parseStated(v, stated)
		require.True(t, ok, "%s: %s stated as %q, which is no value of it", where, option, stated)
		require.Equal(t, v.Interface(), want, "%s: %s stated as %q, but its default is %v", where, option, stated, v.Interface())
	}

	texts, _ := sourceTexts(t)
	inMessage := regexp.MustCompile("([a-z][a-z0-9_:]*) \\(default ([^)]+)\\)")
	for _, text := range append(texts, hintTexts()...) {
		for _, m := range inMessage.FindAllStringSubmatch(text, -1) {
			f("message "+strconv.Quote(text), m[1], m[2])
		}
	}

	docs := fieldDocs(t)
	for option, v := range ours {
		_, documented := docs[option]
		require.True(t, documented || isBlock(v.Type(), "mapstructure"), "config.go: no doc found for %s", option)
	}
	for option, doc := range docs {
		_, stated, ok := strings.Cut(doc, "Default: ")
		if !ok {
			require.True(t, ours[option].IsZero(), "config.go: the doc of %s states no default", option)
			continue
		}
		f("config.go, doc of "+option, option, strings.TrimSuffix(strings.Fields(stated)[0], "."))
	}

	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)
	_, table, ok := strings.Cut(readme, "\n## Configuration\n")
	require.True(t, ok, "README: no Configuration section")
	table, _, _ = strings.Cut(table, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `?([^|`]*?)`? \\|")
	inTable := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		inTable[m[1]]++
		f("README table", m[1], m[2])
	}
	for option, v := range ours {
		if isBlock(v.Type(), "mapstructure") {
			continue
		}
		require.Equal(t, 1, inTable[option], "README: the option table lists %s %d times", option, inTable[option])
	}
	inProse := regexp.MustCompile("`([a-z][a-z0-9_:]*)` \\(([^)]+?)(?: by default)?\\)")
	for _, m := range inProse.FindAllStringSubmatch(readme, -1) {
		if _, ok := ours[m[1]]; ok {
			f("README "+strconv.Quote(m[0]), m[1], m[2])
		}
	}
}

// fieldDocs maps each option of Config and RetryConfig to its field's doc
// comment in config.go.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments|parser.SkipObjectResolution)
	require.NoError(t, err)
	structs := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})
	out := map[string]string{}
	var walk func(st *ast.StructType, prefix string)
	walk = func(st *ast.StructType, prefix string) {
		for _, field := range st.Fields.List {
			if field.Tag == nil || len(field.Names) == 0 || field.Names[0].Name == "_" {
				continue
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			require.NoError(t, err)
			name := reflect.StructTag(tag).Get("mapstructure")
			if sub, ok := field.Type.(*ast.Ident); ok && structs[sub.Name] != nil {
				walk(structs[sub.Name], prefix+name+"::")
				continue
			}
			out[prefix+name] = strings.Join(strings.Fields(field.Doc.Text()), " ")
		}
	}
	walk(structs["Config"], "")
	return out
}

// parseStated reads a default as written for the option whose value is v
// ("30s", "30 s", "1024", "none"); ok is false for text that is no value.
func parseStated(v reflect.Value, stated string) (any, bool) {
	stated = strings.TrimSpace(stated)
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(strings.ReplaceAll(stated, " ", ""))
		return d, err == nil
	case int:
		n, err := strconv.Atoi(stated)
		return n, err == nil
	case int64:
		n, err := strconv.ParseInt(stated, 10, 64)
		return n, err == nil
	case string:
		return stated, strings.HasPrefix(stated, "/")
	case component.ID:
		if stated == "none" {
			return component.ID{}, true
		}
		var id component.ID
		return id, id.UnmarshalText([]byte(stated)) == nil
	default:
		panic(fmt.Sprintf("parseStated: no parser for %s", v.Type()))
	}
}
