package gogettest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// adopter is another module's program that imports every package
// docs/toolkit.md#go-get-it names: the client, the toolkit, its stores
// and its test suite.
const adopter = `package main

import (
	"context"
	"fmt"
	"time"

	"github.com/idemsum/idemsum/client"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
	"github.com/idemsum/idemsum/idempotency/mysqlstore"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

func main() {
	c, err := client.New([]string{"http://127.0.0.1:8080"})
	if err != nil {
		panic(err)
	}
	_, err = c.Add(context.Background(), 5)
	fmt.Println(err)
	guard := &idempotency.Guard{Store: idempotencytest.NewMemStore(time.Now), TTL: 24 * time.Hour}
	_ = idempotency.Middleware(guard, idempotency.RequireKey())
	_, _ = mysqlstore.New, redisstore.New
}
`

// TestImportFromAnotherModule builds and vets adopter in a module of its
// own that requires github.com/idemsum/idemsum, replaced by this
// checkout: what "go get github.com/idemsum/idemsum/client" gives a user
// once the repository is published. It uses the module cache (this
// module's dependencies) and GOPROXY as set.
func TestImportFromAnotherModule(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/adopter\n\ngo 1.26\n\nrequire github.com/idemsum/idemsum v0.0.0-00010101000000-000000000000\n\nreplace github.com/idemsum/idemsum => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"go.mod": gomod, "go.sum": string(sum), "main.go": adopter} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", os.DevNull, "."}, {"vet", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in a module of its own: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "github.com/go-sql-driver/mysql") || !strings.Contains(string(mod), "github.com/redis/go-redis/v9") {
		t.Errorf("go.mod after tidy lacks the stores' drivers:\n%s", mod)
	}
}
