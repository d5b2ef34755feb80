package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes lists every route of the service. No response of /sum or
// /test-sum-action may be stored by a cache (noStore), and each carries
// the CORS headers of a listed origin (cors); every request that adds or
// reads the total passes Access first (access: the cross-origin rule,
// then tokens; addsOnGet for the legacy URL, whose GET adds). OPTIONS
// (a browser's preflight) passes neither: it carries no token and adds
// nothing.
func addRoutes(mux *http.ServeMux, d Deps) {
	access, addsOnGet := d.Access.guard(d, false), d.Access.guard(d, true)
	cors := d.Access.cors()
	api := func(h http.Handler) http.Handler { return noStore(cors(h)) }
	mux.Handle("POST /sum", api(access(handleAdd(d, "key"))))
	mux.Handle("GET /sum", api(access(handleRead(d))))
	mux.Handle("OPTIONS /sum", api(d.Access.handleOptions(d, "GET, HEAD, OPTIONS, POST")))
	mux.Handle("/sum", api(handleMethodNotAllowed("GET, HEAD, OPTIONS, POST")))

	mux.Handle("HEAD /test-sum-action", api(handleHeadAdd(d)))
	mux.Handle("GET /test-sum-action", api(addsOnGet(handleAdd(d, "ikey"))))
	mux.Handle("POST /test-sum-action", api(addsOnGet(handleAdd(d, "ikey"))))
	mux.Handle("OPTIONS /test-sum-action", api(d.Access.handleOptions(d, "GET, OPTIONS, POST")))
	mux.Handle("/test-sum-action", api(handleMethodNotAllowed("GET, OPTIONS, POST")))

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
