package orders

import (
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/idemsum/idemsum/idempotency"
)

// NewHandler returns the service's routes:
//
//	POST /orders       place an order; requires an Idempotency-Key
//	GET  /orders/{id}  an order
//	GET  /healthz      200 while the process serves
//
// POST /orders goes through idempotency.Middleware over g, with a key
// required and a JSON fingerprint that ignores sent_at.
func NewHandler(db *DB, wh Warehouse, g *idempotency.Guard, log *slog.Logger) http.Handler {
	keyed := idempotency.Middleware(g, idempotency.RequireKey(),
		idempotency.FingerprintWith(idempotency.JSONFingerprint("sent_at")))
	mux := http.NewServeMux()
	mux.Handle("POST /orders", keyed(handlePlace(db, wh, log)))
	mux.Handle("GET /orders/{id}", handleGet(db))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}

// handlePlace places an order: the row first (the fence), then the
// warehouse, then 201. Every answer but 201 and 422 tells the client to
// retry with the same key: a 503 or 502 is not recorded, so the retry
// runs this handler again, finds the order its key placed, and asks the
// warehouse again (which reserves once per key).
func handlePlace(db *DB, wh Warehouse, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := idempotency.ParseHeader(r.Header.Get(idempotency.HeaderKey)) // the middleware checked it
		in, err := decodeInput(r)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, err.Error()) // recorded: the same body is refused again
			return
		}
		o, existing, err := db.Place(r.Context(), key, in)
		switch {
		case err != nil:
			log.Error("place", "key", key, "err", err)
			writeProblem(w, http.StatusServiceUnavailable, "the order could not be placed; retry with the same key")
			return
		case existing && !o.matches(in): // the Store forgot the key's first request; the fence did not
			writeProblem(w, http.StatusUnprocessableEntity, "this key placed another order")
			return
		}
		if err := wh.Reserve(r.Context(), key, o); err != nil {
			log.Warn("reserve", "key", key, "order", o.ID, "err", err)
			writeProblem(w, http.StatusBadGateway, "the warehouse did not answer; retry with the same key")
			return
		}
		log.Info("placed", "key", key, "order", o.ID, "existing", existing, "sent_at", in.SentAt)
		writeOrder(w, http.StatusCreated, o)
	})
}

func handleGet(db *DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeProblem(w, http.StatusNotFound, "no such order")
			return
		}
		o, err := db.ByID(r.Context(), id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			writeProblem(w, http.StatusNotFound, "no such order")
		case err != nil:
			writeProblem(w, http.StatusServiceUnavailable, "try again")
		default:
			writeOrder(w, http.StatusOK, o)
		}
	})
}
