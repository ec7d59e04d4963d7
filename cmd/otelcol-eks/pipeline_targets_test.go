package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// scrapeTarget is a loopback HTTP server serving one fixture exposition in
// the Prometheus text format, on every path (so a config may name the
// real metrics_path, e.g. /actuator/prometheus). Its content can be swapped
// and the server closed while the collector scrapes it.
type scrapeTarget struct {
	name   string
	srv    *httptest.Server
	body   atomic.Pointer[[]byte]
	closed sync.Once
}

func startScrapeTarget(t *testing.T, name, fixture string) *scrapeTarget {
	t.Helper()
	st := &scrapeTarget{name: name}
	st.serve(t, fixture)
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(*st.body.Load())
	}))
	t.Cleanup(st.close)
	return st
}

// serve makes the target answer with the content of fixture from now on.
func (st *scrapeTarget) serve(t *testing.T, fixture string) {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatalf("cannot read fixture of target %s: %v", st.name, err)
	}
	st.body.Store(&b)
}

// close stops the server: later scrapes fail with "connection refused".
func (st *scrapeTarget) close() { st.closed.Do(st.srv.Close) }

// addr is the target's host:port, the value of its `instance` label.
func (st *scrapeTarget) addr() string { return st.srv.Listener.Addr().String() }

// port is the target's port alone, the value of `server.port`.
func (st *scrapeTarget) port() string {
	_, port, _ := net.SplitHostPort(st.addr())
	return port
}

// targetEnvVar is the environment variable a case's config uses for the
// address of the target served from fixture <name>.prom:
// kube-state-metrics -> TARGET_KUBE_STATE_METRICS.
func targetEnvVar(name string) string {
	return "TARGET_" + strings.ToUpper(nonAlnum.ReplaceAllString(name, "_"))
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// startCaseTargets starts one target for every fixture <name>.prom (in the
// case directory, else in the shared targets directory) whose
// ${env:TARGET_<NAME>} the case's config mentions, sets those variables,
// and returns the targets by name. Fixtures named <name>.<phase>.prom are
// alternative contents that a case switches to itself.
func startCaseTargets(t *testing.T, config []byte, dirs ...string) map[string]*scrapeTarget {
	t.Helper()
	fixtures := map[string]string{}
	for i := len(dirs) - 1; i >= 0; i-- { // earlier directories win
		paths, err := filepath.Glob(filepath.Join(dirs[i], "*.prom"))
		if err != nil {
			t.Fatalf("cannot list fixtures: %v", err)
		}
		for _, p := range paths {
			name := strings.TrimSuffix(filepath.Base(p), ".prom")
			if !strings.Contains(name, ".") {
				fixtures[name] = p
			}
		}
	}
	names := make([]string, 0, len(fixtures))
	for name := range fixtures {
		names = append(names, name)
	}
	sort.Strings(names)
	targets := map[string]*scrapeTarget{}
	for _, name := range names {
		env := targetEnvVar(name)
		if !strings.Contains(string(config), fmt.Sprintf("${env:%s}", env)) {
			continue
		}
		st := startScrapeTarget(t, name, fixtures[name])
		t.Setenv(env, st.addr())
		targets[name] = st
	}
	if len(targets) == 0 {
		t.Fatalf("the config names no ${env:TARGET_<NAME>} of a fixture in %v", dirs)
	}
	return targets
}
