package server_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum/internal/apicheck"
	"github.com/idemsum/idemsum/server"
)

// api is the checker of server.OpenAPI, loaded once.
var api = sync.OnceValues(func() (*apicheck.Checker, error) { return apicheck.New(server.OpenAPI()) })

// checkAPI checks the exchange of req (whose body was body) and rec
// against the OpenAPI description (apicheck.Checker.Check): serve calls
// it for every request of the server tests.
func checkAPI(tb testing.TB, req *http.Request, body string, rec *httptest.ResponseRecorder) {
	tb.Helper()
	c, err := api()
	if err != nil {
		tb.Fatalf("OpenAPI description: %v", err)
	}
	err = c.Check(apicheck.Exchange{Method: req.Method, URL: req.URL, Header: req.Header, Body: []byte(body),
		Status: rec.Code, RHeader: rec.Header(), RBody: rec.Body.Bytes()})
	if err != nil {
		tb.Errorf("OpenAPI: %v", err)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	rec := serve(t, newHandler(t, newLedger(), nil), request{method: http.MethodGet, target: "/openapi.json"})
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), server.OpenAPI()) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json: got %d %q, want 200 application/json with server.OpenAPI()", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// routePatterns returns the pattern of every mux.Handle call in routes.go.
func routePatterns(tb testing.TB) []string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var patterns []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		lit, isLit := call.Args[0].(*ast.BasicLit)
		if ok && sel.Sel.Name == "Handle" && isLit && lit.Kind == token.STRING {
			p, _ := strconv.Unquote(lit.Value)
			patterns = append(patterns, p)
		}
		return true
	})
	if len(patterns) < 10 {
		tb.Fatalf("found %d routes in routes.go, want every mux.Handle call: %q", len(patterns), patterns)
	}
	return patterns
}

// TestOpenAPICoversRoutes fails when routes.go has a route that the
// description lacks: a method and path without an operation, or a path
// (a catch-all answering 405) not listed. "/" alone is the 404 fallback.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	c, err := api()
	if err != nil {
		t.Fatal(err)
	}
	doc := c.Doc()
	for _, p := range routePatterns(t) {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		path = strings.TrimSuffix(path, "{$}")
		if method == "" && path == "/" {
			continue // every other path: 404 (components.responses.NotFound)
		}
		item := doc.Paths.Find(path)
		switch {
		case item == nil:
			t.Errorf("route %q: path %s is not in the OpenAPI description", p, path)
		case method != "" && item.GetOperation(method) == nil:
			t.Errorf("route %q: no %s operation on %s in the OpenAPI description", p, method, path)
		case method == http.MethodGet && item.Head == nil:
			t.Errorf("route %q: no HEAD operation (net/http serves HEAD with GET) on %s", p, path)
		}
	}
}

// TestOpenAPIOperationsRouted fails when the description lists an
// operation that no route serves (it would answer 404).
func TestOpenAPIOperationsRouted(t *testing.T) {
	t.Parallel()
	c, err := api()
	if err != nil {
		t.Fatal(err)
	}
	d := deps(newLedger(), newStore())
	d.Gatherer = prometheus.NewRegistry()
	h := server.NewServer(d)
	for path, item := range c.Doc().Paths.Map() {
		for method := range item.Operations() {
			rec := serve(t, h, request{method: method, target: path})
			if rec.Code == http.StatusNotFound {
				t.Errorf("%s %s: got 404, want the route the description lists", method, path)
			}
		}
	}
}
