# Konorkestra. `make demo` and `make test` install what they need by themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK := scripts/stack.sh

## help: list the targets
.PHONY: help
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST) | column -t -s ':'

## install: npm ci (skipped while node_modules matches package-lock.json)
.PHONY: install
install: node_modules/.kon-installed
node_modules/.kon-installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## deps: find or provision nats-server, PostgreSQL+TimescaleDB and Redis under .stack/
.PHONY: deps
deps:
	@bash scripts/deps.sh

## bench-deps: deps, plus etcd for the propagation benchmark's side-by-side comparison
.PHONY: bench-deps
bench-deps:
	@bash scripts/deps.sh --bench

## build: compile every workspace (tsc --build) and generated code
.PHONY: build
build: install
	npm run build

## lint: ESLint and Prettier
.PHONY: lint
lint: install
	npx eslint .
	npx prettier --check .

## up: start the local stack (servers, then config-loader, monitor, analytics, example services)
.PHONY: up
up: deps build
	@bash $(STACK) up

## down: stop the local stack
.PHONY: down
down:
	@bash $(STACK) down

## restart: stop and start the local stack
.PHONY: restart
restart: deps build
	@bash $(STACK) restart

## status: versions and health of the local stack
.PHONY: status
status:
	@bash $(STACK) status

## logs: recent server logs (make logs S=nats for one)
.PHONY: logs
logs:
	@bash $(STACK) logs $(S)

## demo: install, start the stack and run the main job (a live hot swap across the services)
.PHONY: demo
demo: install deps build up
	@echo
	@bash $(STACK) status
	@echo
	@node servicepool/dist/demo/main.js

## test: install, provision and run every test (unit and integration, real servers)
.PHONY: test
test: install deps build lint
	npx jest
	@bash scripts/go-test.sh

## test-go: go vet and go test of the Go client and its example (real agent, real stack; after build)
.PHONY: test-go
test-go: install deps build
	@bash scripts/go-test.sh

## test-unit: unit tests only (no servers)
.PHONY: test-unit
test-unit: install
	npm run test:unit

## test-int: integration tests only
.PHONY: test-int
test-int: install deps
	npm run test:int

## chaos: fault drills on a testkit stack (kill -9 of NATS, loader, monitor, PostgreSQL under load); not part of test
.PHONY: chaos
chaos: install deps build
	npm run chaos -- $(ARGS)

## proto: regenerate TypeScript from proto/konorkestra/v1/*.proto
.PHONY: proto
proto: install
	npm run proto:generate

## clean: stop the stack, remove build output and .stack (servers, data, logs)
.PHONY: clean
clean: down
	-npm run clean
	rm -rf .stack
