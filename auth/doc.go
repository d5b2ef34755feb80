// Package auth implements sumd's optional API tokens: a token file naming
// the clients and the SHA-256 of each one's token, a constant-time lookup
// of a presented token, a Set that reloads the file (on SIGHUP, say) and
// shows in metrics how its reads went, and the parsing of an RFC 6750
// "Authorization: Bearer" header.
//
// The token file holds no secret, one client a line:
//
//	# NAME     SHA256-HEX
//	billing    9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// Fields are separated by spaces or tabs, the hash is 64 hex digits in
// either case, and blank lines and lines whose first non-blank character is
// '#' are ignored; CRLF line endings are accepted. A name is 1 to 64
// letters, digits, '.', '_' or '-', starting with a letter or a digit
// (ValidName). Names and hashes are unique, and a file without clients is
// an error: it would lock every client out. Errors name the file and line.
//
// Tokens are 256 random bits (NewToken), so a fast hash is enough: there is
// nothing to guess that a slow password hash would protect. Line gives the
// file's line for a token; sumd's "token" command prints both.
//
// Replace the file by renaming a new one over it: a Reload that reads a
// half-written file fails and keeps the clients it had.
package auth
