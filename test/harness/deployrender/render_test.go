package deployrender

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnvsubst: gettext envsubst's rules for a SHELL-FORMAT list.
func TestEnvsubst(t *testing.T) {
	vars := []string{"AWS_ACCOUNT_ID", "IMAGE"}
	values := map[string]string{"AWS_ACCOUNT_ID": "012345678901", "IMAGE": "r/i:v", "HOME": "/root"}
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, Envsubst(in, vars, values), in)
	}
	f("id: ${AWS_ACCOUNT_ID}", "id: 012345678901")
	f("id: $AWS_ACCOUNT_ID.", "id: 012345678901.")
	f("image: ${IMAGE}${IMAGE}", "image: r/i:vr/i:v")
	f("home: ${HOME} $HOME", "home: ${HOME} $HOME")                               // not listed
	f("${env:AWS_ACCOUNT_ID} ${env:X:-d}", "${env:AWS_ACCOUNT_ID} ${env:X:-d}")   // the collector's own
	f("replacement: $${1} $$1 __param_$$1", "replacement: $${1} $$1 __param_$$1") // relabel escapes
	f("${AWS_ACCOUNT_ID:-x} ${AWS_ACCOUNT_ID", "${AWS_ACCOUNT_ID:-x} ${AWS_ACCOUNT_ID")
	f("$AWS_ACCOUNT_IDX", "$AWS_ACCOUNT_IDX") // another name
	f("uid: ${datasource}", "uid: ${datasource}")
	f("end $", "end $")
}

// TestREADMECommands: the README names the variables the tests render with.
func TestREADMECommands(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	vars, err := READMEVariables(root)
	require.NoError(t, err)
	require.Equal(t, []string{"OTELCOL_EKS_IMAGE", "OTELCOL_EKS_ROLE_ARN"}, vars)
	env, err := READMEEnvFile(root)
	require.NoError(t, err)
	require.Equal(t, []string{"EKS_CLUSTER_NAME", "AWS_ACCOUNT_ID", "AWS_REGION", "AMP_ENDPOINT"}, env)
	require.Equal(t, "A=0\nB=\n", EnvFileContent([]string{"A", "B"}, map[string]string{"A": "0"}))
}
