package idempotency_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

func TestValidRecord(t *testing.T) {
	t.Parallel()
	ok := idempotency.Record{Status: 201, ContentType: "application/json", Header: http.Header{"Location": {"/o/1"}, "Etag": {`"v1"`}}}
	tests := map[string]struct {
		rec  idempotency.Record
		want error
	}{
		"genuine":               {ok, nil},
		"status 200":            {idempotency.Record{Status: 200}, nil},
		"status 499":            {idempotency.Record{Status: 499}, nil},
		"status 0":              {idempotency.Record{Status: 0}, idempotency.ErrInvalidRecord},
		"status 199":            {idempotency.Record{Status: 199}, idempotency.ErrInvalidRecord},
		"status 503":            {idempotency.Record{Status: 503}, idempotency.ErrInvalidRecord},
		"status 1000":           {idempotency.Record{Status: 1000}, idempotency.ErrInvalidRecord},
		"Set-Cookie":            {idempotency.Record{Status: 200, Header: http.Header{"Set-Cookie": {"a=b"}}}, idempotency.ErrInvalidRecord},
		"unknown header":        {idempotency.Record{Status: 200, Header: http.Header{"X-Admin": {"1"}}}, idempotency.ErrInvalidRecord},
		"non-canonical name":    {idempotency.Record{Status: 200, Header: http.Header{"location": {"/x"}}}, idempotency.ErrInvalidRecord},
		"CRLF in a value":       {idempotency.Record{Status: 200, Header: http.Header{"Location": {"/x\r\nSet-Cookie: a=b"}}}, idempotency.ErrInvalidRecord},
		"NUL in a content type": {idempotency.Record{Status: 200, ContentType: "text/plain\x00"}, idempotency.ErrInvalidRecord},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := idempotency.ValidRecord(tc.rec); !errors.Is(err, tc.want) {
				t.Errorf("ValidRecord: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReplayableHeader(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"Location": true, "etag": true, "Link": true, "Set-Cookie": false, "Date": false, "Connection": false, "Content-Length": false, "X-Custom": false} {
		if got := idempotency.ReplayableHeader(name); got != want {
			t.Errorf("ReplayableHeader(%q): got %v, want %v", name, got, want)
		}
	}
}
