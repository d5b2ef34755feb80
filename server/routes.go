package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes lists every route of the service. No response of /sum or
// /test-sum-action may be stored by a cache (noStore); every request that
// adds or reads the total passes Access first (access: tokens, then the
// cross-origin rule; addsOnGet for the legacy URL, whose GET adds).
func addRoutes(mux *http.ServeMux, d Deps) {
	access, addsOnGet := d.Access.guard(d, false), d.Access.guard(d, true)
	mux.Handle("POST /sum", noStore(access(handleAdd(d, "key"))))
	mux.Handle("GET /sum", noStore(access(handleRead(d))))
	mux.Handle("/sum", noStore(handleMethodNotAllowed("GET, HEAD, POST")))

	mux.Handle("HEAD /test-sum-action", noStore(handleHeadAdd(d)))
	mux.Handle("GET /test-sum-action", noStore(addsOnGet(handleAdd(d, "ikey"))))
	mux.Handle("POST /test-sum-action", noStore(addsOnGet(handleAdd(d, "ikey"))))
	mux.Handle("/test-sum-action", noStore(handleMethodNotAllowed("GET, POST")))

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("/healthz", handleMethodNotAllowed("GET, HEAD"))
	mux.Handle("GET /readyz", handleReadyz(d))
	mux.Handle("/readyz", handleMethodNotAllowed("GET, HEAD"))

	if d.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
		mux.Handle("/metrics", handleMethodNotAllowed("GET, HEAD"))
	}

	mux.Handle("GET /stats", noStore(handleStats(d, d.stats)))
	mux.Handle("/stats", handleMethodNotAllowed("GET, HEAD"))
	mux.Handle("GET /openapi.json", handleOpenAPI())
	mux.Handle("/openapi.json", handleMethodNotAllowed("GET, HEAD"))

	mux.Handle("GET /{$}", handlePage())
	mux.Handle("/", handleNotFound())
}
