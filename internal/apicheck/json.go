package apicheck

import (
	"bytes"
	"encoding/json"
)

// jsonUnmarshal decodes b as openapi3's schema validation expects (numbers
// as float64).
func jsonUnmarshal(b []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(b)).Decode(v)
}
