package server

// Fingerprint is fingerprint, for tests that plant records.
var Fingerprint = fingerprint
