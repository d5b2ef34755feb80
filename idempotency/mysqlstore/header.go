package mysqlstore

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// errCorruptHeader reports a header column encodeHeader did not write.
var errCorruptHeader = errors.New("corrupt header column")

// encodeHeader returns h as the header column: each value as its name and
// value, each a uvarint length and bytes; NULL (nil) for no values.
func encodeHeader(h http.Header) []byte {
	var b []byte
	for name, vs := range h {
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(name)))
			b = append(b, name...)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// decodeHeader reads a header column written by encodeHeader; NULL or
// empty is no header (nil).
func decodeHeader(b []byte) (http.Header, error) {
	if len(b) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for len(b) > 0 {
		var name, value string
		var ok bool
		if name, b, ok = cut(b); !ok {
			return nil, errCorruptHeader
		}
		if value, b, ok = cut(b); !ok {
			return nil, errCorruptHeader
		}
		h[name] = append(h[name], value)
	}
	return h, nil
}

// cut reads a uvarint length and that many bytes, and returns the rest.
func cut(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	end := n + int(l)
	return string(b[n:end]), b[end:], true
}
