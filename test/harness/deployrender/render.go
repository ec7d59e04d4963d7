// Package deployrender renders deploy/'s variants as deploy/README.md tells
// a user to: the collector's environment written to
// deploy/base/environment.env, `kubectl kustomize deploy/<variant>`, then
// envsubst with the list of variables the README's command names, so that
// tests apply and check exactly the text a user sends to the API server.
package deployrender

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ExampleValues are what a user's shell holds when following the README
// (its envsubst variables and its environment file's), of the right shape,
// with an account ID that starts with 0: as a YAML number it would lose the
// zero, and the API server refuses a number in a ConfigMap.
var ExampleValues = map[string]string{
	"OTELCOL_EKS_IMAGE":    "012345678901.dkr.ecr.us-west-2.amazonaws.com/otelcol-eks:v0.1.0",
	"OTELCOL_EKS_ROLE_ARN": "arn:aws:iam::012345678901:role/otelcol-eks",
	"EKS_CLUSTER_NAME":     "eks-workshop",
	"AWS_ACCOUNT_ID":       "012345678901",
	"AWS_REGION":           "us-west-2",
	"AMP_ENDPOINT":         "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-0a1b2c3d/",
}

// envsubstCommand is the README's envsubst step: `envsubst '<$VAR ...>'`.
var envsubstCommand = regexp.MustCompile(`envsubst '([^']*)'`)

// EnvFile is where the README writes the collector's environment, relative
// to deploy/ (deploy/base/kustomization.yaml generates the ConfigMap
// otelcol-eks-env from it).
const EnvFile = "base/environment.env"

// envFileCommand is the README's command that writes EnvFile: a printf of
// "NAME=$NAME" arguments, possibly over several lines, into it.
var envFileCommand = regexp.MustCompile(`printf '%s\\n'([^>]*)> deploy/` + regexp.QuoteMeta(EnvFile))

// envFileEntry is one "NAME=$NAME" argument of that printf.
var envFileEntry = regexp.MustCompile(`"([A-Z_][A-Z0-9_]*)=\$([A-Z_][A-Z0-9_]*)"`)

// READMEEnvFile returns the variables deploy/README.md writes into
// EnvFile, each from the shell variable of the same name, in order.
func READMEEnvFile(repoRoot string) ([]string, error) {
	path := filepath.Join(repoRoot, "deploy", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	m := envFileCommand.FindStringSubmatch(string(data))
	if m == nil {
		return nil, fmt.Errorf("%s: no `printf '%%s\\n' \"NAME=$NAME\" ... > deploy/%s` command", path, EnvFile)
	}
	var names []string
	for _, e := range envFileEntry.FindAllStringSubmatch(m[1], -1) {
		if e[1] != e[2] {
			return nil, fmt.Errorf("%s: %s is written from $%s", path, e[1], e[2])
		}
		names = append(names, e[1])
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: the command writing deploy/%s names no variable", path, EnvFile)
	}
	return names, nil
}

// EnvFileContent is what the README's printf writes for these values: one
// NAME=value line per name.
func EnvFileContent(names []string, values map[string]string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "=" + values[n] + "\n")
	}
	return b.String()
}

// READMEVariables returns the variables deploy/README.md's apply command
// passes to envsubst, in order. It fails unless the README names exactly
// one list (every envsubst command in it lists the same variables).
func READMEVariables(repoRoot string) ([]string, error) {
	path := filepath.Join(repoRoot, "deploy", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	var list string
	for _, m := range envsubstCommand.FindAllStringSubmatch(string(data), -1) {
		if list != "" && m[1] != list {
			return nil, fmt.Errorf("%s: envsubst commands name different variables: %q and %q", path, list, m[1])
		}
		list = m[1]
	}
	if list == "" {
		return nil, fmt.Errorf("%s: no `envsubst '$VAR ...'` command", path)
	}
	var vars []string
	for _, f := range strings.Fields(list) {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(f, "$"), "{"), "}")
		if !isName(name) {
			return nil, fmt.Errorf("%s: %q in the envsubst list is not a variable", path, f)
		}
		vars = append(vars, name)
	}
	return vars, nil
}

// Envsubst is GNU gettext's `envsubst 'SHELL-FORMAT'`: every `$NAME` and
// `${NAME}` whose NAME is in vars is replaced by values[NAME] (empty when
// unset, as envsubst does for an unset variable); everything else,
// `${env:...}`, `$${1}` and variables not listed included, is left as it is.
func Envsubst(text string, vars []string, values map[string]string) string {
	listed := map[string]bool{}
	for _, v := range vars {
		listed[v] = true
	}
	var out strings.Builder
	for i := 0; i < len(text); {
		if text[i] != '$' {
			out.WriteByte(text[i])
			i++
			continue
		}
		name, end := referenceAt(text, i)
		if name != "" && listed[name] {
			out.WriteString(values[name])
			i = end
			continue
		}
		out.WriteByte('$')
		i++
	}
	return out.String()
}

// referenceAt parses a `$NAME` or `${NAME}` reference at text[i] (a '$'),
// returning the name and the index after the reference, or "" when there is
// none.
func referenceAt(text string, i int) (name string, end int) {
	j := i + 1
	braced := j < len(text) && text[j] == '{'
	if braced {
		j++
	}
	start := j
	for j < len(text) && isNameByte(text[j], j == start) {
		j++
	}
	if j == start {
		return "", 0
	}
	if braced {
		if j >= len(text) || text[j] != '}' {
			return "", 0
		}
		return text[start:j], j + 1
	}
	return text[start:j], j
}

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || !first && c >= '0' && c <= '9'
}

// Kustomize builds deploy/<variant> ("" for deploy/ itself) with the
// kustomize binary at bin, as `kubectl kustomize` does.
func Kustomize(bin, repoRoot, variant string) (string, error) {
	cmd := exec.Command(bin, "build", filepath.Join(repoRoot, "deploy", variant))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kustomize build deploy/%s: %w: %s", variant, err, stderr.String())
	}
	return string(out), nil
}

// Render is the README's pipeline for one variant, run on a copy of deploy/
// in workDir (the repository is not written to): EnvFile written from
// values, kustomize, then envsubst with the README's variables set to
// values.
func Render(kustomizeBin, repoRoot, workDir, variant string, values map[string]string) (string, error) {
	vars, err := READMEVariables(repoRoot)
	if err != nil {
		return "", err
	}
	envNames, err := READMEEnvFile(repoRoot)
	if err != nil {
		return "", err
	}
	deploy := filepath.Join(workDir, "deploy")
	if _, err := os.Stat(deploy); os.IsNotExist(err) {
		if err := os.CopyFS(deploy, os.DirFS(filepath.Join(repoRoot, "deploy"))); err != nil {
			return "", fmt.Errorf("cannot copy deploy/: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(deploy, EnvFile), []byte(EnvFileContent(envNames, values)), 0o600); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", EnvFile, err)
	}
	built, err := Kustomize(kustomizeBin, workDir, variant)
	if err != nil {
		return "", err
	}
	return Envsubst(built, vars, values), nil
}

// Documents splits a multi-document YAML stream (kustomize's output) into
// its non-empty documents, each as written.
func Documents(stream string) []string {
	var docs []string
	for _, d := range strings.Split(stream, "\n---\n") {
		if strings.TrimSpace(strings.TrimPrefix(d, "---\n")) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}
