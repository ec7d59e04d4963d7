package main

import (
	"bytes"
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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/encoding/prototext"
)

// scrapeTarget is a loopback HTTP server serving one fixture exposition,
// on every path (so a config may name the real metrics_path, e.g.
// /actuator/prometheus). Its content can be swapped and the server closed
// while the collector scrapes it.
//
// A fixture is either <name>.prom, served as it is in the Prometheus text
// format, or <name>.pb.txt: MetricFamily messages (io.prometheus.client) in
// the protobuf text format, separated by lines `---`, served as a client
// library serves them: in the protobuf exposition to a scraper that
// accepts it (the only one that carries native histograms), else in the
// text format.
type scrapeTarget struct {
	name   string
	srv    *httptest.Server
	body   atomic.Pointer[exposition]
	closed sync.Once
}

// exposition is a target's answer in each format it serves; protobuf is
// nil for a text fixture.
type exposition struct {
	text, protobuf []byte
}

const (
	textFixtureSuffix     = ".prom"
	protobufFixtureSuffix = ".pb.txt"
	// protobufMediaType is what a scraper accepts and a target answers for
	// the protobuf exposition.
	protobufMediaType   = "application/vnd.google.protobuf"
	protobufContentType = protobufMediaType + "; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

func startScrapeTarget(t *testing.T, name, fixture string) *scrapeTarget {
	t.Helper()
	st := &scrapeTarget{name: name}
	st.serve(t, fixture)
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := st.body.Load()
		if e.protobuf != nil && strings.Contains(r.Header.Get("Accept"), protobufMediaType) {
			w.Header().Set("Content-Type", protobufContentType)
			_, _ = w.Write(e.protobuf)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(e.text)
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
	e := exposition{text: b}
	if strings.HasSuffix(fixture, protobufFixtureSuffix) {
		if e, err = encodeProtobufFixture(b); err != nil {
			t.Fatalf("cannot encode fixture %s: %v", fixture, err)
		}
	}
	st.body.Store(&e)
}

// encodeProtobufFixture parses the MetricFamily messages of a .pb.txt
// fixture and encodes them in the delimited protobuf exposition and in the
// text format.
func encodeProtobufFixture(b []byte) (exposition, error) {
	var pb, text bytes.Buffer
	enc := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for i, msg := range strings.Split(string(b), "\n---\n") {
		var mf dto.MetricFamily
		if err := prototext.Unmarshal([]byte(msg), &mf); err != nil {
			return exposition{}, fmt.Errorf("message %d: %w", i+1, err)
		}
		if err := enc.Encode(&mf); err != nil {
			return exposition{}, fmt.Errorf("cannot encode message %d (%s): %w", i+1, mf.GetName(), err)
		}
		if _, err := expfmt.MetricFamilyToText(&text, &mf); err != nil {
			return exposition{}, fmt.Errorf("cannot write message %d (%s) as text: %w", i+1, mf.GetName(), err)
		}
	}
	return exposition{text: text.Bytes(), protobuf: pb.Bytes()}, nil
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

// startCaseTargets starts one target for every fixture <name>.prom or
// <name>.pb.txt (in the case directory, else in the shared targets
// directory) whose ${env:TARGET_<NAME>} the case's config mentions, sets
// those variables, and returns the targets by name. Fixtures named
// <name>.<phase>.prom are alternative contents that a case switches to
// itself.
func startCaseTargets(t *testing.T, config []byte, dirs ...string) map[string]*scrapeTarget {
	t.Helper()
	fixtures := map[string]string{}
	for i := len(dirs) - 1; i >= 0; i-- { // earlier directories win
		for _, suffix := range []string{textFixtureSuffix, protobufFixtureSuffix} {
			paths, err := filepath.Glob(filepath.Join(dirs[i], "*"+suffix))
			if err != nil {
				t.Fatalf("cannot list fixtures: %v", err)
			}
			for _, p := range paths {
				name := strings.TrimSuffix(filepath.Base(p), suffix)
				if !strings.Contains(name, ".") {
					fixtures[name] = p
				}
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
