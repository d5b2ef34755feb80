// Command noop is the floor that scripts/bench.sh measures sumd against:
// a net/http server with sumd's server settings whose handler only writes
// a fixed {"total":1} body. Usage: go run ./scripts/noop -http-addr ADDR
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("http-addr", "127.0.0.1:8089", "listen address")
	flag.Parse()
	body := []byte(`{"total":1}` + "\n")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "noop listening on http://%s\n", ln.Addr())
	log.Fatal(srv.Serve(ln))
}
