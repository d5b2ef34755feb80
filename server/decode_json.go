package server

import (
	"bytes"
	"encoding/json"
	"io"
)

// jsonFields parses a body that must be exactly one JSON object whose only
// member is "number", an integer literal. Nothing may follow the object.
// The usual body ({"number": 5}, any JSON white space) takes a fast path
// that allocates nothing but the field; everything else goes through
// encoding/json, which decides.
func jsonFields(body []byte) ([]field, error) {
	if digits, ok := plainNumberObject(body); ok {
		return []field{{"number", digits}}, nil
	}
	return decodeJSON(body)
}

// decodeJSON is jsonFields through encoding/json.
func decodeJSON(body []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid(`the JSON body must be an object such as {"number": 5}`)
	}
	var fs []field
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, invalid("malformed JSON body")
		}
		if name != "number" || len(fs) > 0 {
			return nil, invalid(`the JSON body takes one member, "number"`)
		}
		val, err := dec.Token()
		num, ok := val.(json.Number)
		if err != nil || !ok {
			return nil, invalid(`"number" must be a JSON integer literal, not a string, object or null`)
		}
		fs = append(fs, field{"number", string(num)})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, invalid("malformed JSON body")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("the JSON body must hold one object and nothing after it")
	}
	return fs, nil
}

// plainNumberObject matches body against ws '{' ws '"number"' ws ':' ws
// DIGITS ws '}' ws — the one spelling it knows — and returns the digits.
// Anything else (escapes, a sign, a fraction, other members) is not ok and
// left to encoding/json.
func plainNumberObject(body []byte) (string, bool) {
	b := skipSpace(body)
	for _, want := range []string{"{", `"number"`, ":"} {
		if !bytes.HasPrefix(b, []byte(want)) {
			return "", false
		}
		b = skipSpace(b[len(want):])
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	digits := b[:n]
	rest := skipSpace(b[n:])
	if n == 0 || (n > 1 && digits[0] == '0') || len(rest) == 0 || rest[0] != '}' || len(skipSpace(rest[1:])) != 0 {
		return "", false
	}
	return string(digits), true
}

// skipSpace drops JSON white space (space, tab, CR, LF) from the front.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
