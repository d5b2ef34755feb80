package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes lists every route of the service.
func addRoutes(mux *http.ServeMux, d Deps) {
	mux.Handle("POST /sum", handleAdd(d, "key"))
	mux.Handle("GET /sum", handleRead(d))
	mux.Handle("/sum", handleMethodNotAllowed("GET, HEAD, POST"))

	mux.Handle("GET /test-sum-action", handleAdd(d, "ikey"))
	mux.Handle("POST /test-sum-action", handleAdd(d, "ikey"))
	mux.Handle("/test-sum-action", handleMethodNotAllowed("GET, POST"))

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("/healthz", handleMethodNotAllowed("GET, HEAD"))
	mux.Handle("GET /readyz", handleReadyz(d))
	mux.Handle("/readyz", handleMethodNotAllowed("GET, HEAD"))

	if d.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
		mux.Handle("/metrics", handleMethodNotAllowed("GET, HEAD"))
	}

	mux.Handle("GET /{$}", handlePage())
	mux.Handle("/", handleNotFound())
}
