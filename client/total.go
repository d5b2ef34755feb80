package client

import (
	"encoding/json"
	"fmt"
	"math/big"
)

// parseTotal returns N of a {"total": N} body, N a natural number (an
// exact integer, which may exceed 2^64), answered with status.
func parseTotal(status int, body []byte) (*big.Int, error) {
	var v struct {
		Total json.RawMessage `json:"total"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Total) == 0 {
		return nil, fmt.Errorf("client: a %d whose body is not a total: %q", status, snippet(body))
	}
	n, ok := new(big.Int).SetString(string(v.Total), 10)
	if !ok || n.Sign() < 0 {
		return nil, fmt.Errorf("client: a %d whose total %q is not a natural number", status, v.Total)
	}
	return n, nil
}
