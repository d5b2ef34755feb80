package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

// maxBody is the largest request body accepted; {"number": N} needs ~40 bytes.
const maxBody = 4 << 10

// input is a validated request: an optional key and an optional number.
type input struct {
	key       string
	number    uint64
	hasNumber bool
}

// decodeAdd reads and validates every input of an adding request: the
// Idempotency-Key header, the query, and a JSON or form body. keyParam
// names the key's query/form field. Without a number the request only
// reads the total.
func decodeAdd(w http.ResponseWriter, r *http.Request, keyParam string) (input, error) {
	key, numbers, err := decodeFields(w, r, keyParam)
	if err != nil || len(numbers) == 0 {
		return input{key: key}, err
	}
	n, err := same(numbers, "two different numbers in one request")
	if err != nil {
		return input{}, err
	}
	number, err := idemsum.ParseNumber(n)
	if err != nil {
		return input{}, err
	}
	return input{key: key, number: number, hasNumber: true}, nil
}

// decodeRead validates a reading request (GET /sum): a key is checked and
// ignored, and a number is an error, since a read adds nothing.
func decodeRead(w http.ResponseWriter, r *http.Request) error {
	_, numbers, err := decodeFields(w, r, "key")
	if err == nil && len(numbers) > 0 {
		err = invalid("GET /sum only reads the total; send the number with POST /sum")
	}
	return err
}

// decodeFields reads the key and the numbers of r from every source. The
// key field's values are parsed like the header's, so one text is the
// same key, or is refused, from every source. Unknown fields and two
// different keys are errors.
func decodeFields(w http.ResponseWriter, r *http.Request, keyParam string) (string, []string, error) {
	fields, err := queryFields(r)
	if err != nil {
		return "", nil, err
	}
	body, err := bodyFields(w, r)
	if err != nil {
		return "", nil, err
	}
	fields = append(fields, body...)
	var keys, numbers []string
	for _, h := range r.Header.Values(idempotency.HeaderKey) {
		if keys, err = appendKey(keys, h, "the Idempotency-Key header"); err != nil {
			return "", nil, err
		}
	}
	for _, f := range fields {
		switch f.name {
		case keyParam:
			if keys, err = appendKey(keys, f.value, "the "+keyParam+" field"); err != nil {
				return "", nil, err
			}
		case "number":
			numbers = append(numbers, f.value)
		default:
			return "", nil, invalid("unknown field %q; the fields are %q and %q", truncate(f.name), "number", keyParam)
		}
	}
	key, err := same(keys, "two different idempotency keys in one request")
	return key, numbers, err
}

// appendKey parses v with idempotency.ParseHeader (a bare key or an RFC
// 8941 quoted string) and appends the key to keys; source names v in the
// error.
func appendKey(keys []string, v, source string) ([]string, error) {
	k, err := idempotency.ParseHeader(v)
	if err != nil {
		return keys, invalid("%s must be 1 to 255 visible ASCII characters, bare or as a quoted string", source)
	}
	return append(keys, k), nil
}

// same returns the one distinct value of vs ("" if none), or an error
// with msg when they differ.
func same(vs []string, msg string) (string, error) {
	for _, v := range vs[min(1, len(vs)):] {
		if v != vs[0] {
			return "", invalid("%s", msg)
		}
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

type field struct{ name, value string }

func queryFields(r *http.Request) ([]field, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("malformed query string")
	}
	return flatten(q), nil
}

// bodyFields reads a JSON object or a form; an empty body has no fields.
func bodyFields(w http.ResponseWriter, r *http.Request) ([]field, error) {
	if r.ContentLength > maxBody {
		return nil, idemsum.Errorf(etooLarge, "the body is over %d bytes", maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, idemsum.Errorf(etooLarge, "the body is over %d bytes", maxBody)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, idemsum.Errorf(etimeout, "the body did not arrive within the server's read timeout; nothing was added")
	case err != nil:
		return nil, invalid("could not read the body")
	case len(body) == 0:
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == "application/json":
		return jsonFields(body)
	case err == nil && mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, invalid("malformed form body")
		}
		return flatten(form), nil
	}
	return nil, idemsum.Errorf(eunsupported, "send the body as application/json or application/x-www-form-urlencoded")
}

func flatten(v url.Values) []field {
	var fs []field
	for name, vals := range v {
		for _, val := range vals {
			fs = append(fs, field{name, val})
		}
	}
	return fs
}

func invalid(format string, args ...any) error {
	return idemsum.Errorf(idemsum.EINVALID, format, args...)
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
