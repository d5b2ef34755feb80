package otelx

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Resource returns the resource of a service's spans: the SDK's defaults
// (telemetry.sdk.*), then service.name and service.version as given, then
// what OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME in the process
// environment say (resource.WithFromEnv), each over the ones before.
func Resource(ctx context.Context, service, version string) (*resource.Resource, error) {
	env, err := resource.New(ctx, resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	ours := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version))
	res, err := resource.Merge(resource.Default(), ours)
	if err != nil {
		return nil, err
	}
	return resource.Merge(res, env)
}
