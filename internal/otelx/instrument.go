package otelx

import (
	"database/sql"
	"database/sql/driver"
	"net/http"

	"github.com/XSAM/otelsql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Handler returns h with a server span per request made by tp (otelhttp),
// continuing the trace of an incoming request as prop reads it (W3C
// traceparent).
func Handler(h http.Handler, tp trace.TracerProvider, prop propagation.TextMapPropagator) http.Handler {
	return otelhttp.NewHandler(h, "sumd", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop))
}

// OpenDB returns what opens a pool on a MySQL connector (for
// mysql.NewWith) with a span made by tp per statement and transaction
// (otelsql), none for session resets and rows.
func OpenDB(tp trace.TracerProvider) func(driver.Connector) *sql.DB {
	return func(c driver.Connector) *sql.DB {
		return otelsql.OpenDB(c, otelsql.WithTracerProvider(tp),
			otelsql.WithAttributes(attribute.String("db.system.name", "mysql")),
			otelsql.WithSpanOptions(otelsql.SpanOptions{OmitConnResetSession: true, OmitRows: true}))
	}
}

// Redis makes a span by tp per command or pipeline of rdb (redisotel).
func Redis(rdb goredis.UniversalClient, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp))
}
