package workshop

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ModulePath is the Go module whose repository holds configs/ and bin/.
const ModulePath = "github.com/otelcol-eks/otelcol-eks"

// BinaryEnv names the environment variable that overrides the collector
// binary's path.
const BinaryEnv = "OTELCOL_EKS_BIN"

// RepoRoot returns the repository root: the nearest directory at or above
// the working directory whose go.mod declares ModulePath. Tests run in
// their package's directory, commands usually at the root; both find it.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot get working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module "+ModulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the otelcol-eks repository root (a go.mod of " + ModulePath + ") at or above the working directory")
		}
		dir = parent
	}
}

// CheckCollectorBinary returns nil when bin exists, else an error that says
// how to build it.
func CheckCollectorBinary(bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("cannot find the collector binary (build it with `make build`, or set %s): %w", BinaryEnv, err)
	}
	return nil
}

// CollectorBinary returns the collector to run: $OTELCOL_EKS_BIN when set,
// else <repo>/bin/otelcol-eks (built by `make build`).
func CollectorBinary(repo string) string {
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	return filepath.Join(repo, "bin", "otelcol-eks")
}
