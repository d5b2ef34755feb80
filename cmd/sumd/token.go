package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/idemsum/idemsum/auth"
)

// tokenUsage is the help of "sumd token".
const tokenUsage = `usage: sumd token NAME
       sumd token check FILE

sumd token NAME prints a new API token for client NAME (1 to 64 letters,
digits, '.', '_' or '-', starting with a letter or digit): the token alone
on the first line, and on the second the client's line for the
-auth-tokens file (NAME and the token's SHA-256, no secret). The token is
not stored anywhere.

sumd token check FILE reads FILE as sumd would on start or SIGHUP and
prints its clients; it exits non-zero, naming the line at fault, if sumd
would refuse the file. Run it before sending SIGHUP.
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
	case fs.NArg() == 2 && fs.Arg(0) == "check":
		return checkTokens(fs.Arg(1), stdout)
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

// checkTokens is "sumd token check FILE": it loads path as sumd does and
// prints how many clients it names and who they are.
func checkTokens(path string, stdout io.Writer) error {
	toks, err := auth.Load(path)
	if err != nil {
		return fmt.Errorf("token check: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s: ok, %d clients: %s\n", path, toks.Len(), strings.Join(toks.Names(), " "))
	return err
}

// tokenError is err of "sumd token" followed by the usage line.
func tokenError(err error) error {
	return fmt.Errorf("token: %w\nusage: sumd token NAME (sumd token -h for help)", err)
}
