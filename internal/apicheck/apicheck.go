// Package apicheck checks HTTP exchanges against the OpenAPI description
// of the service (server.OpenAPI), for the server and end-to-end tests:
// every response must be one the description lists, and every request
// that the server accepted (a 2xx) must be one the description allows.
// A request the description refuses may be sent on purpose (a test of
// bad input): it must then be refused by the server too (a 4xx).
package apicheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// The page is text/html: checked as a string, like text/plain.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
}

// Checker validates exchanges against one description. It is safe for
// concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates the description spec (OpenAPI 3.1 JSON).
func New(spec []byte) (*Checker, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load the description: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the description is invalid: %w", err)
	}
	doc.Servers = nil // match any host
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the description: %w", err)
	}
	// Then validate exchanges with kin-openapi's own validator: for a 3.1 document it
	// would take its JSON Schema 2020-12 path, which compiles the schema
	// again for every value checked (milliseconds each), too slow for the
	// e2e tests' load. The description uses nothing that this validator
	// ignores (apicheck_test checks that it still catches each kind of
	// drift: const, enum, null items, extra members, patterns).
	doc.OpenAPI = "3.0.3"
	return &Checker{doc: doc, router: router}, nil
}

// Doc returns the description.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Exchange is one request and the response it got.
type Exchange struct {
	Method  string
	URL     *url.URL
	Header  http.Header // request header
	Body    []byte      // request body
	Status  int
	RHeader http.Header // response header
	RBody   []byte      // response body
}

// Check returns what in x the description does not allow, or nil.
func (c *Checker) Check(x Exchange) error {
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, x.Method, x.URL.String(), bytes.NewReader(x.Body))
	if err != nil {
		return err
	}
	req.Header = x.Header.Clone()
	route, params, err := c.router.FindRoute(req)
	if err == nil && route.Path != x.URL.Path {
		err = routers.ErrPathNotFound // the router ignores a trailing slash; net/http does not
	}
	if err != nil {
		return c.checkUnrouted(x, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && x.Status < 400 {
		return fmt.Errorf("%s %s: the server answered %d to a request the description refuses: %w", x.Method, x.URL, x.Status, reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: x.Status, Header: x.RHeader, Body: io.NopCloser(bytes.NewReader(x.RBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: x.Method == http.MethodHead},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s: response %d %q: %w", x.Method, x.URL, x.Status, truncate(x.RBody), err)
	}
	return nil
}

// checkUnrouted checks the answer to a request the description has no
// operation for: 405 on a listed path but /, 404 on / and any other.
func (c *Checker) checkUnrouted(x Exchange, routeErr error) error {
	want, name := http.StatusNotFound, "NotFound"
	var re *routers.RouteError
	if errors.As(routeErr, &re) && re.Reason == routers.ErrMethodNotAllowed.Error() && x.URL.Path != "/" {
		want, name = http.StatusMethodNotAllowed, "MethodNotAllowed"
	}
	if x.Status != want {
		return fmt.Errorf("%s %s: got %d, want %d (%v)", x.Method, x.URL, x.Status, want, routeErr)
	}
	resp := c.doc.Components.Responses[name].Value
	for h, ref := range resp.Headers {
		if ref.Value.Required && x.RHeader.Get(h) == "" {
			return fmt.Errorf("%s %s: %d without the %s header", x.Method, x.URL, x.Status, h)
		}
	}
	if x.Method == http.MethodHead {
		return nil
	}
	mt := resp.Content.Get(x.RHeader.Get("Content-Type"))
	if mt == nil {
		return fmt.Errorf("%s %s: %d with Content-Type %q", x.Method, x.URL, x.Status, x.RHeader.Get("Content-Type"))
	}
	var v any
	if err := jsonUnmarshal(x.RBody, &v); err != nil {
		return fmt.Errorf("%s %s: %d body %q: %w", x.Method, x.URL, x.Status, truncate(x.RBody), err)
	}
	if err := mt.Schema.Value.VisitJSON(v); err != nil {
		return fmt.Errorf("%s %s: %d body %q: %w", x.Method, x.URL, x.Status, truncate(x.RBody), err)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
