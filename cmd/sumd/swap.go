package main

import (
	"net/http"
	"sync/atomic"
)

// swapHandler serves whichever handler was set last: sumd's starting
// handler until MySQL is ready, then the real one.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}
