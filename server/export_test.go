package server

// Fingerprint is fingerprint, for tests that plant records.
var Fingerprint = fingerprint

// MaxBody is maxBody, for tests at the limit.
const MaxBody = maxBody
