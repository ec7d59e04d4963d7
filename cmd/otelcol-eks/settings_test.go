package main

import (
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelcol-eks/otelcol-eks/components/configcheck"
)

// testSettings mirrors the settings the generated main() builds (same
// factories, providers and converter, `env` as the default scheme as
// otelcol.NewCommand sets it) so that tests run the distribution in-process.
// factories is components unless a test swaps a factory in.
func testSettings(factories func() (otelcol.Factories, error), configURIs ...string) otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "otelcol-eks", Description: "otelcol-eks under test", Version: version},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs: configURIs,
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
				ConverterFactories: []confmap.ConverterFactory{configcheck.NewFactory()},
				DefaultScheme:      "env",
			},
		},
	}
}

// setTestAWSEnvironment gives the AWS SDK static test credentials and keeps
// it away from the EC2 instance metadata service.
func setTestAWSEnvironment(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDOTELCOLEKSTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "otelcol-eks-test-secret-not-real")
	t.Setenv("AWS_REGION", "us-west-2")
}
