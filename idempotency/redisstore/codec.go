package redisstore

import (
	"encoding/binary"
	"errors"

	"idemsum/idempotency"
)

// version is the first byte of an encoded Record.
const version = 1

// ErrCorrupt reports a stored value that Decode cannot read.
var ErrCorrupt = errors.New("redisstore: corrupt record")

// Encode returns rec in the Store's compact binary format: a version byte,
// the status as a varint, the fingerprint and the content type each as a
// uvarint length and bytes, then the body up to the end.
func Encode(rec idempotency.Record) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(rec.Fingerprint)+len(rec.ContentType)+len(rec.Body))
	b = append(b, version)
	b = binary.AppendVarint(b, int64(rec.Status))
	b = appendString(b, rec.Fingerprint)
	b = appendString(b, rec.ContentType)
	return append(b, rec.Body...)
}

// Decode reads a Record written by Encode, or returns ErrCorrupt. The
// Record's Body shares memory with b.
func Decode(b []byte) (idempotency.Record, error) {
	if len(b) == 0 || b[0] != version {
		return idempotency.Record{}, ErrCorrupt
	}
	status, n := binary.Varint(b[1:])
	if n <= 0 || int64(int(status)) != status {
		return idempotency.Record{}, ErrCorrupt
	}
	b = b[1+n:]
	fp, b, ok := readString(b)
	ct, b, ok2 := readString(b)
	if !ok || !ok2 {
		return idempotency.Record{}, ErrCorrupt
	}
	return idempotency.Record{Fingerprint: fp, Status: int(status), ContentType: ct, Body: b}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readString reads a string written by appendString and returns the rest.
func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	end := n + int(l)
	return string(b[n:end]), b[end:], true
}
