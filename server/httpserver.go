package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts bound how long a client may take, as http.Server applies them.
type Timeouts struct {
	ReadHeader time.Duration // to send a request's headers
	Read       time.Duration // to send a whole request, body included
	Write      time.Duration // to be served one request, from the end of its headers
	Idle       time.Duration // between requests on a keep-alive connection
}

// HTTPServer is an http.Server that serves from Listen on until Wait
// shuts it down.
type HTTPServer struct {
	srv  *http.Server
	addr net.Addr
	errc chan error // Serve's error
	log  *slog.Logger
}

// Listen listens on addr at once and serves h there, through Listener,
// with the timeouts t, at most 16 KiB of request headers, and net/http's
// own errors logged to log at WARN.
func Listen(addr string, h http.Handler, t Timeouts, log *slog.Logger) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &HTTPServer{srv: newHTTPServer(h, t, log), addr: ln.Addr(), errc: make(chan error, 1), log: log}
	go func() { s.errc <- s.srv.Serve(Listener(ln)) }()
	return s, nil
}

func newHTTPServer(h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Addr returns the address s listens on.
func (s *HTTPServer) Addr() net.Addr { return s.addr }

// Wait waits until s stops by itself, and returns its error, or until ctx
// is done; then it stops accepting and lets the requests in flight finish
// within grace, and returns nil if they did.
func (s *HTTPServer) Wait(ctx context.Context, grace time.Duration) error {
	select {
	case err := <-s.errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-s.errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
