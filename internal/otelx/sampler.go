package otelx

import (
	"fmt"
	"strconv"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// RequestsOnly returns a sampler that samples traces that start at a
// request (a server span, or a span with a parent) as next says, and
// drops the root spans of background work (sumd's Redis probe every
// second, its purge), which would otherwise be most traces.
func RequestsOnly(next sdktrace.Sampler) sdktrace.Sampler { return requestsOnly{next} }

type requestsOnly struct{ next sdktrace.Sampler }

func (s requestsOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() && p.Kind != trace.SpanKindServer {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return s.next.ShouldSample(p)
}

func (s requestsOnly) Description() string { return "RequestsOnly(" + s.next.Description() + ")" }

// Sampler returns the sampler that OTEL_TRACES_SAMPLER name (default
// parentbased_always_on) and OTEL_TRACES_SAMPLER_ARG arg ask for, or an
// error naming the variable that is wrong.
func Sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: unsupported", name)
}
