package redisstore

// Encode and Decode are the Store's codec, for the codec's tests and for
// tests that plant values.
var (
	Encode = encode
	Decode = decode
)
