package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// updateGolden is the project-wide switch (`make golden` sets it) that makes
// golden tests rewrite their files instead of comparing with them; the
// rewritten files are then reviewed as a diff like code.
var updateGolden = os.Getenv("UPDATE_GOLDEN") != ""

// compareGolden compares got with the golden file at path and fails with a
// unified diff (golden as "a", this run as "b") when they differ. With
// UPDATE_GOLDEN set it writes got to path instead.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("cannot create the golden directory: %v", err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("cannot write golden file: %v", err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read golden file (UPDATE_GOLDEN=1 or `make golden` creates it): %v", err)
	}
	if string(want) == got {
		return
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(want)),
		B:        difflib.SplitLines(got),
		FromFile: path,
		ToFile:   "this run",
		Context:  1,
	})
	if err != nil {
		t.Fatalf("output differs from %s and the diff failed: %v\n--- got:\n%s", path, err, got)
	}
	t.Errorf("output differs from the golden file (review, then `make golden` or UPDATE_GOLDEN=1 to accept):\n%s\nby series:\n%s",
		diff, summarizeChanges(string(want), got))
}

// summarizeChanges lists what differs between two renderings series by
// series: values changed, series only in the golden file, series only in
// this run. Rendered lines are long (every label of a series), so a value
// changed at the end of one is easy to miss in a line diff.
func summarizeChanges(want, got string) string {
	w, wantKeys := splitRendered(want)
	g, gotKeys := splitRendered(got)
	var b strings.Builder
	for _, k := range wantKeys {
		switch gv, ok := g[k]; {
		case !ok:
			fmt.Fprintf(&b, "  only in golden:   %s %s\n", k, w[k])
		case gv != w[k]:
			fmt.Fprintf(&b, "  values changed:   %s\n      golden: %s\n    this run: %s\n", k, w[k], gv)
		}
	}
	for _, k := range gotKeys {
		if _, ok := w[k]; !ok {
			fmt.Fprintf(&b, "  only in this run: %s %s\n", k, g[k])
		}
	}
	return b.String()
}

// splitRendered maps each series line of a remotewrite.Render output to its
// values (the text after the label set); exemplar lines are left out.
func splitRendered(text string) (map[string]string, []string) {
	values := map[string]string{}
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, " ") {
			continue
		}
		key, vals := line, ""
		if i := labelSetEnd(line); i > 0 {
			key, vals = line[:i], line[i+1:]
		}
		values[key] = vals
		keys = append(keys, key)
	}
	return values, keys
}

// labelSetEnd returns the index just past the `}` closing the label set of
// a rendered line, or -1. Label values are Go-quoted, so the set ends at
// the first `{}` or unescaped `"}` followed by a space. It serves the
// change summary only; the comparison itself is of the whole text.
func labelSetEnd(line string) int {
	if i := strings.Index(line, "{} "); i >= 0 && !strings.Contains(line[:i], "{") {
		return i + 2
	}
	for i := 1; i+2 < len(line); i++ {
		if line[i] == '"' && line[i+1] == '}' && line[i+2] == ' ' && line[i-1] != '\\' {
			return i + 2
		}
	}
	return -1
}
