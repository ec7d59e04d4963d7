package workshop

import (
	"os"
	"strings"
)

// collectorEnv returns the collector's environment: the caller's, minus
// every AWS_* variable (a developer's profile, session token or role must
// not reach the local pipeline) and minus the variables configs/local.yaml
// reads, plus set. Entries of set are "NAME=value"; later ones win.
func collectorEnv(base []string, set []string) []string {
	owned := map[string]bool{}
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		owned[name] = true
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || owned[name] {
			continue
		}
		env = append(env, kv)
	}
	return append(env, set...)
}

// devNull is where the AWS SDK's shared config and credentials files are
// pointed, so that ~/.aws cannot add a profile, region or credential
// process to the collector's chain.
var devNull = os.DevNull
