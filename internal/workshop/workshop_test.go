package workshop

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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

func TestLogCaptureKeepsTheNewestBytes(t *testing.T) {
	var c logCapture
	_, _ = c.Write([]byte("first\n"))
	require.Equal(t, "first\n", c.String())
	big := strings.Repeat("x", maxCapturedLog)
	_, _ = c.Write([]byte(big))
	_, _ = c.Write([]byte("last\n"))
	s := c.String()
	require.True(t, strings.HasPrefix(s, "…\n"))
	require.True(t, strings.HasSuffix(s, "xlast\n"))
	require.Len(t, s, len("…\n")+maxCapturedLog)
	require.Equal(t, "…st\n", c.tail(3))
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

// The test binary doubles as a stand-in collector process, so the process
// handling is tested on a real child: WORKSHOP_HELPER selects its behaviour.
func TestMain(m *testing.M) {
	switch os.Getenv("WORKSHOP_HELPER") {
	case "":
		os.Exit(m.Run())
	case "graceful": // exits 0 on SIGTERM, as the collector does
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		os.Stdout.WriteString("helper running\n")
		<-ch
		os.Stdout.WriteString("helper stopping\n")
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		os.Stdout.WriteString("helper running\n")
		// Sleep rather than `select {}`: with no other goroutine the
		// runtime would call a bare select a deadlock and exit 2.
		for {
			time.Sleep(time.Hour)
		}
	case "crash":
		os.Stderr.WriteString("error decoding config\n")
		os.Exit(3)
	}
}

func startHelper(t *testing.T, mode string) *collector {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	c, err := startCollector(self, "unused.yaml", append(os.Environ(), "WORKSHOP_HELPER="+mode),
		filepath.Join(t.TempDir(), "collector.log"), nil, "http://127.0.0.1:1/")
	require.NoError(t, err)
	return c
}

func waitLogged(t *testing.T, c *collector, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.log.String(), s) {
		require.True(t, time.Now().Before(deadline), "helper never logged %q", s)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCollectorStopsOnSIGTERM(t *testing.T) {
	c := startHelper(t, "graceful")
	waitLogged(t, c, "helper running")
	require.NoError(t, c.stop(30*time.Second))
	require.Contains(t, c.log.String(), "helper stopping")
	require.NoError(t, c.stop(time.Second), "second stop")
}

func TestCollectorKilledAfterDeadline(t *testing.T) {
	c := startHelper(t, "stubborn")
	waitLogged(t, c, "helper running")
	start := time.Now()
	err := c.stop(300 * time.Millisecond)
	require.ErrorContains(t, err, "was killed")
	require.Less(t, time.Since(start), 10*time.Second)
	select {
	case <-c.exited:
	default:
		t.Fatal("helper still running after stop")
	}
}

func TestCollectorExitDuringStartupIsReported(t *testing.T) {
	c := startHelper(t, "crash")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.waitHealthy(ctx)
	require.ErrorContains(t, err, "exited during startup")
	require.ErrorContains(t, err, "error decoding config")
	data, rerr := os.ReadFile(c.logFile.Name())
	require.NoError(t, rerr)
	require.Equal(t, "error decoding config\n", string(data))
}

func TestStartFailsWithoutCollectorBinary(t *testing.T) {
	_, err := startCollector(filepath.Join(t.TempDir(), "missing"), "c.yaml", nil,
		filepath.Join(t.TempDir(), "collector.log"), nil, "http://127.0.0.1:1/")
	require.ErrorContains(t, err, "make build")
}
