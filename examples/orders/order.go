package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Order is a placed order.
type Order struct {
	ID       int64  `json:"id"`
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// input is the body of POST /orders. SentAt is the client's clock at
// sending, different on every attempt: the service only logs it, and the
// fingerprint ignores it.
type input struct {
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
	SentAt   string `json:"sent_at,omitempty"`
}

// maxBody bounds the body of POST /orders.
const maxBody = 4 << 10

var errInput = errors.New(`want a JSON body {"item": "1 to 100 bytes", "quantity": 1 to 1000}`)

// decodeInput reads and checks the body of POST /orders.
func decodeInput(r *http.Request) (input, error) {
	var in input
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, errInput
	}
	if in.Item == "" || len(in.Item) > 100 || in.Quantity < 1 || in.Quantity > 1000 {
		return in, errInput
	}
	return in, nil
}

// matches reports whether o is the order in asks for.
func (o Order) matches(in input) bool { return o.Item == in.Item && o.Quantity == in.Quantity }

// writeOrder answers o with status: its JSON, the same bytes for the same
// order however often it is written, and its Location.
func writeOrder(w http.ResponseWriter, status int, o Order) {
	b, _ := json.Marshal(o)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/orders/"+strconv.FormatInt(o.ID, 10))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeProblem writes an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`+"\n", http.StatusText(status), status, detail)
}
