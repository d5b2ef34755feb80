package client_test

import (
	"io"
	"net/http"
)

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
