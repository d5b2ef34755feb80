package auth_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/idemsum/idemsum/auth"
)

func ExampleTokens_Lookup() {
	file := "# clients of sumd\n" +
		auth.Line("billing", "isk_billing-secret") + "\n" +
		auth.Line("ops", "isk_ops-secret") + "\n"
	toks, err := auth.Parse(strings.NewReader(file), "tokens.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.Header{"Authorization": {"Bearer isk_ops-secret"}}
	token, _ := auth.BearerToken(h)
	client, ok := toks.Lookup(token)
	fmt.Println(client, ok, toks.Names())
	// Output: ops true [billing ops]
}

func ExampleParse_error() {
	_, err := auth.Parse(strings.NewReader("billing 9f86d081\n"), "tokens.txt")
	fmt.Println(err)
	// Output: tokens.txt:1: hash is not 64 hex digits (got 8 characters)
}
