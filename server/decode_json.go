package server

import (
	"bytes"
	"encoding/json"
	"io"
)

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
