package server

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// ServePprof serves net/http/pprof on addr, for profiling in production,
// with the timeouts t but a write timeout of at least 40 s (room for a
// 30 s CPU profile), until it fails, which it logs.
func ServePprof(addr string, t Timeouts, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := newHTTPServer(mux, t, log)
	srv.Addr = addr
	srv.WriteTimeout = max(srv.WriteTimeout, 40*time.Second)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof server stopped", "err", err)
	}
}
