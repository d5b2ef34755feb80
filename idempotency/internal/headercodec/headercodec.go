// Package headercodec is the compact binary form in which the toolkit's
// Stores keep a Record's Header: store plumbing, not part of the
// toolkit's public API.
package headercodec

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// ErrCorrupt reports bytes that Decode cannot read.
var ErrCorrupt = errors.New("headercodec: corrupt encoded header")

// Append appends h to b in a compact binary form, for Stores that
// keep a Record's Header as bytes: each value as its name and then the
// value, each a uvarint length and bytes. A header without values adds
// nothing.
func Append(b []byte, h http.Header) []byte {
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

// Decode reads a header written by Append; empty b is nil. It
// returns ErrCorrupt for anything else.
func Decode(b []byte) (http.Header, error) {
	if len(b) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for len(b) > 0 {
		name, rest, ok := cutUvarintString(b)
		if !ok {
			return nil, ErrCorrupt
		}
		value, rest, ok := cutUvarintString(rest)
		if !ok {
			return nil, ErrCorrupt
		}
		h[name] = append(h[name], value)
		b = rest
	}
	return h, nil
}

// cutUvarintString reads a uvarint length and that many bytes, and returns
// them and the rest.
func cutUvarintString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	end := n + int(l)
	return string(b[n:end]), b[end:], true
}
