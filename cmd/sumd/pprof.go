package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves net/http/pprof on cfg.DebugAddr, for profiling in
// production, with the main server's timeouts (the write timeout leaves
// room for a 30 s CPU profile).
func servePprof(cfg config, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := newHTTPServer(cfg, mux, log)
	srv.Addr = cfg.DebugAddr
	srv.WriteTimeout = max(srv.WriteTimeout, 40*time.Second)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof server stopped", "err", err)
	}
}
