package server

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
)

// ParseNumber parses a natural number given as ASCII decimal digits (no
// sign, space, fraction or exponent) from 1 to 2^63-1.
func ParseNumber(s string) (uint64, error) {
	if s == "" {
		return 0, invalid("number is empty; want an integer from 1 to 9223372036854775807")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, invalid("number must be ASCII decimal digits only, got %q", truncate(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || n == 0 {
		return 0, invalid("number is out of range; want an integer from 1 to 9223372036854775807")
	}
	return n, nil
}

// jsonFields parses a body that must be exactly one JSON object whose only
// member is "number", an integer literal. Nothing may follow the object.
func jsonFields(body []byte) ([]field, error) {
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
