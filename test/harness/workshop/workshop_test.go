package workshop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCollectorEnvDropsCallersAWSSettings(t *testing.T) {
	base := []string{
		"PATH=/usr/bin", "HOME=/root", "AWS_PROFILE=prod", "AWS_SESSION_TOKEN=tok",
		"AWS_ROLE_ARN=arn:aws:iam::1:role/x", "AMP_ENDPOINT=https://aps.example/", "AWSOME=1",
	}
	got := collectorEnv(base, []string{"AWS_ACCESS_KEY_ID=AKID", "AMP_ENDPOINT=http://127.0.0.1:1/", "X=1", "X=2"})
	require.Equal(t, []string{
		"PATH=/usr/bin", "HOME=/root", "AWSOME=1",
		"AWS_ACCESS_KEY_ID=AKID", "AMP_ENDPOINT=http://127.0.0.1:1/", "X=1", "X=2",
	}, got)
}

func TestOptionsValidation(t *testing.T) {
	f := func(name string, o Options, wantErr string) {
		t.Helper()
		err := o.fill()
		require.ErrorContains(t, err, wantErr, name)
	}
	f("no credentials", Options{}, "access key")
	f("no secret", Options{AccessKeyID: "AKID"}, "secret")
	creds := Options{AccessKeyID: "AKID", SecretAccessKey: "s"}
	o := creds
	o.OrdersAddr = "0.0.0.0:8080"
	f("orders on every interface", o, "not a loopback")
	o = creds
	o.StandinAddr = ":9091"
	f("stand-in on every interface", o, "not a loopback")
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{AccessKeyID: "AKID", SecretAccessKey: "s"}
	require.NoError(t, o.fill())
	root, err := RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "configs", "local.yaml"))
	require.Equal(t, filepath.Join(root, "configs", "local.yaml"), o.ConfigPath)
	require.Equal(t, "s", o.CollectorSecretAccessKey)
	require.Equal(t, DefaultRegion, o.Region)
	require.Equal(t, "127.0.0.1:0", o.OrdersAddr)
	require.Equal(t, DefaultScrapeInterval, o.ScrapeInterval)

	t.Setenv(BinaryEnv, "/opt/otelcol-eks")
	require.Equal(t, "/opt/otelcol-eks", CollectorBinary(root))
	t.Setenv(BinaryEnv, "")
	require.Equal(t, filepath.Join(root, "bin", "otelcol-eks"), CollectorBinary(root))
}

// The test binary doubles as a stand-in collector process, so the wiring
// of startCollector is tested on a real child: WORKSHOP_HELPER selects its
// behaviour. Stopping and log capture are childproc's, tested there.
func TestMain(m *testing.M) {
	switch os.Getenv("WORKSHOP_HELPER") {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Stderr.WriteString("error decoding config\n")
		os.Exit(3)
	}
}

func TestCollectorExitDuringStartupIsReported(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	logPath := filepath.Join(t.TempDir(), "collector.log")
	c, err := startCollector(self, "unused.yaml", append(os.Environ(), "WORKSHOP_HELPER=crash"),
		logPath, nil, "http://127.0.0.1:1/")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.waitHealthy(ctx)
	require.ErrorContains(t, err, "collector exited during startup (exit status 3)")
	require.ErrorContains(t, err, "error decoding config")
	data, rerr := os.ReadFile(logPath)
	require.NoError(t, rerr)
	require.Equal(t, "error decoding config\n", string(data))
	require.ErrorContains(t, c.Stop(time.Second), "collector exited: exit status 3")
}

func TestStartFailsWithoutCollectorBinary(t *testing.T) {
	_, err := startCollector(filepath.Join(t.TempDir(), "missing"), "c.yaml", nil,
		filepath.Join(t.TempDir(), "collector.log"), nil, "http://127.0.0.1:1/")
	require.ErrorContains(t, err, "make build")
}

func TestConfigEditing(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	cfg := ReadConfig(t, filepath.Join(root, "configs", "local.yaml"))
	ConfigMap(t, cfg, "processors", "k8smeta")["deleted_pod_grace_period"] = "1s"
	again := ReadConfig(t, WriteConfig(t, t.TempDir(), cfg))
	require.Equal(t, cfg, again)
	require.Equal(t, "1s", ConfigMap(t, again, "processors", "k8smeta")["deleted_pod_grace_period"])

	fake := &fatalTB{TB: t}
	ConfigMap(fake, cfg, "processors", "nosuch")
	require.Equal(t, "config has no map at processors.nosuch", fake.fatal)
}

// fatalTB records Fatalf instead of failing.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
