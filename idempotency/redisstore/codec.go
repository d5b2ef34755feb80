package redisstore

import (
	"encoding/binary"
	"errors"

	"idemsum/idempotency"
)

// The first byte of an encoded Record: version 1 has no headers, version 2
// adds them. A Record without headers is written as version 1, which
// instances from before headers existed can still read.
const (
	version1 = 1
	version2 = 2
)

// ErrCorrupt reports a stored value that Decode cannot read.
var ErrCorrupt = errors.New("redisstore: corrupt record")

// Encode returns rec in the Store's compact binary format: a version byte,
// the status as a varint, the fingerprint and the content type each as a
// uvarint length and bytes; in version 2 the header as written by
// idempotency.AppendHeader, with its length before it; then the body up to
// the end.
func Encode(rec idempotency.Record) []byte {
	header := idempotency.AppendHeader(nil, rec.Header)
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(rec.Fingerprint)+len(rec.ContentType)+len(header)+len(rec.Body))
	if len(header) == 0 {
		b = append(b, version1)
	} else {
		b = append(b, version2)
	}
	b = binary.AppendVarint(b, int64(rec.Status))
	b = appendString(b, rec.Fingerprint)
	b = appendString(b, rec.ContentType)
	if len(header) > 0 {
		b = appendString(b, string(header))
	}
	return append(b, rec.Body...)
}

// Decode reads a Record written by Encode, or returns ErrCorrupt. The
// Record's Body shares memory with b.
func Decode(b []byte) (idempotency.Record, error) {
	if len(b) == 0 || (b[0] != version1 && b[0] != version2) {
		return idempotency.Record{}, ErrCorrupt
	}
	v := b[0]
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
	rec := idempotency.Record{Fingerprint: fp, Status: int(status), ContentType: ct}
	if v == version2 {
		var header string
		var err error
		header, b, ok = readString(b)
		if ok && header != "" {
			rec.Header, err = idempotency.DecodeHeader([]byte(header))
		}
		if !ok || header == "" || err != nil {
			return idempotency.Record{}, ErrCorrupt
		}
	}
	rec.Body = b
	return rec, nil
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
