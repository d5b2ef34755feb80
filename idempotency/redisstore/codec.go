package redisstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/internal/headercodec"
)

// version is the first byte of an encoded Record. Versions 1 and 2 (no
// deadline, no MAC) are no longer read: such a value is corrupt.
const version = 3

// macLen is the length of the HMAC-SHA256 that ends an encoded Record.
const macLen = sha256.Size

// ErrCorrupt reports a stored value that the Store cannot read or whose MAC
// does not match: it was not written by the Store with this key and secret.
var ErrCorrupt = errors.New("redisstore: corrupt or forged record")

// encode returns rec, cached until deadline under key, in the Store's
// binary format: a version byte; deadline and rec.Created as unix
// milliseconds (uvarint); the status (varint); the fingerprint, content
// type and header (headercodec.Append), each as a uvarint length and
// bytes; the body; and an HMAC-SHA256 with secret over key and all of the
// above. The MAC binds the value to its key, so a value copied to another
// key, altered, or written by anyone without the secret does not decode.
func encode(key string, rec idempotency.Record, deadline time.Time, secret []byte) []byte {
	header := headercodec.Append(nil, rec.Header)
	b := make([]byte, 0, 1+5*binary.MaxVarintLen64+len(rec.Fingerprint)+len(rec.ContentType)+len(header)+len(rec.Body)+macLen)
	b = append(b, version)
	b = binary.AppendUvarint(b, unixMilli(deadline))
	b = binary.AppendUvarint(b, unixMilli(rec.Created))
	b = binary.AppendVarint(b, int64(rec.Status))
	b = appendString(b, rec.Fingerprint)
	b = appendString(b, rec.ContentType)
	b = appendString(b, string(header))
	b = append(b, rec.Body...)
	return append(b, mac(secret, key, b)...)
}

// decode reads a Record written by encode for key with secret, and its
// deadline, or returns ErrCorrupt. The Record's Body shares memory with b.
func decode(key string, b []byte, secret []byte) (idempotency.Record, time.Time, error) {
	var rec idempotency.Record
	if len(b) < 1+macLen || b[0] != version {
		return rec, time.Time{}, ErrCorrupt
	}
	data, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, mac(secret, key, data)) {
		return rec, time.Time{}, ErrCorrupt
	}
	r := reader{b: data[1:]}
	deadline, created := r.uvarint(), r.uvarint()
	status := r.varint()
	rec.Fingerprint, rec.ContentType = r.string(), r.string()
	header := r.string()
	if r.bad || int64(int(status)) != status {
		return idempotency.Record{}, time.Time{}, ErrCorrupt
	}
	rec.Status = int(status)
	if created > 0 {
		rec.Created = time.UnixMilli(int64(created))
	}
	if header != "" {
		h, err := headercodec.Decode([]byte(header))
		if err != nil {
			return idempotency.Record{}, time.Time{}, ErrCorrupt
		}
		rec.Header = h
	}
	rec.Body = r.b
	return rec, time.UnixMilli(int64(deadline)), nil
}

// mac is HMAC-SHA256 with secret over key (length-prefixed) and data.
func mac(secret []byte, key string, data []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(binary.AppendUvarint(nil, uint64(len(key))))
	m.Write([]byte(key))
	m.Write(data)
	return m.Sum(nil)
}

func unixMilli(t time.Time) uint64 {
	if t.IsZero() || t.UnixMilli() < 0 {
		return 0
	}
	return uint64(t.UnixMilli())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader reads the fields of an encoded Record; bad turns true at the
// first field that does not fit, and every read after it is empty.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<62 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	l := r.uvarint()
	if l > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return s
}

func (r *reader) fail() { r.b, r.bad = nil, true }
