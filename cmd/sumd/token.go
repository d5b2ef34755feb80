package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"idemsum/auth"
)

// tokenUsage is the help of "sumd token".
const tokenUsage = `usage: sumd token NAME

Prints a new API token for client NAME (1 to 64 letters, digits, '.', '_'
or '-', starting with a letter or digit): the token alone on the first
line, and on the second the client's line for the -auth-tokens file (NAME
and the token's SHA-256, no secret). The token is not stored anywhere.
`

// tokenHint is what "sumd token" says on stderr.
const tokenHint = `add the second line to the -auth-tokens file and send SIGHUP to every sumd;
give the first line to the client as Authorization: Bearer <token>;
the token is shown only once
`

// runToken is "sumd token NAME"; args are the arguments after "token". It
// prints a new token and its token-file line to stdout and a hint to
// stderr. -h prints the usage to stdout; a missing or bad NAME is an error
// that ends with the usage line, and prints nothing.
func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sumd token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err = io.WriteString(stdout, tokenUsage)
		return err
	case err != nil:
		return tokenError(err)
	case fs.NArg() != 1:
		return tokenError(fmt.Errorf("want one client NAME, got %d arguments", fs.NArg()))
	}
	name := fs.Arg(0)
	if err := auth.ValidName(name); err != nil {
		return tokenError(err)
	}
	token, err := auth.NewToken()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n%s\n", token, auth.Line(name, token)); err != nil {
		return err
	}
	_, err = io.WriteString(stderr, tokenHint)
	return err
}

// tokenError is err of "sumd token" followed by the usage line.
func tokenError(err error) error {
	return fmt.Errorf("token: %w\nusage: sumd token NAME (sumd token -h for help)", err)
}
