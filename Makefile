# Shortcuts for the scripts in scripts/ (each also runs on its own).
.PHONY: run test bench soak lint

run: ## run one sumd with working defaults
	./scripts/run.sh

test: ## every test, as CI runs them
	./scripts/test.sh

bench: ## no-op floor and sumd, 1 and 3 instances, alternately: make bench ROUNDS=3 SECS=10 [INSTANCES="1 3"] (BASE=rev EXTRA="off claims" LOW=100 in the environment)
	./scripts/bench.sh $(or $(ROUNDS),3) $(or $(SECS),10) "$(or $(INSTANCES),1 3)"

soak: ## the 5-minute fault soak (not in CI): make soak IDEMSUM_SOAK=30s
	IDEMSUM_SOAK=$(or $(IDEMSUM_SOAK),5m) ./scripts/soak.sh

lint: ## what CI checks besides the tests
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...
	GOBIN=$(CURDIR)/bin go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	bin/staticcheck ./...
