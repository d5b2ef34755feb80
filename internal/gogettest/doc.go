// Package gogettest holds one test: that the client and the toolkit
// build from another module, the way docs/toolkit.md#go-get-it tells a
// user to import them, with a replace directive pointing at this
// checkout in place of the published module.
package gogettest
