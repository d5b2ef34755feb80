package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// parseTotal returns N of a {"total": N} body: an exact integer, which
// may exceed 2^64.
func parseTotal(body []byte) (*big.Int, error) {
	var v struct {
		Total json.Number `json:"total"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("client: response body %q: %w", body, err)
	}
	if v.Total == "" {
		return nil, errors.New("client: response body has no total")
	}
	n, ok := new(big.Int).SetString(v.Total.String(), 10)
	if !ok || n.Sign() < 0 {
		return nil, fmt.Errorf("client: total %q is not a natural number", v.Total)
	}
	return n, nil
}
