# openshell-driver-openshift — see README.md. Every target works on a fresh machine.
CARGO ?= cargo
.DEFAULT_GOAL := build
.PHONY: image test-image fuzz bench-cluster bench-e2e test-e2e launcher e2e-up e2e-down test-chart demo demo-openshift build deps lint test test-unit test-grpc test-wire test-integration test-all cluster-build cluster-up cluster-down bench ci

build:
	$(CARGO) build --locked

## Python's grpcio-tools (with grpcio) runs the shared wire-contract check and the Python client test.
deps:
	@python3 -c 'import grpc_tools' 2>/dev/null || python3 -m pip install --quiet grpcio-tools

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	hack/lint-workflows.sh
	hack/lint-house.py

## The driver's OCI image (no container engine): prints the archive, the digest and the size.
image:
	hack/image/build.sh

## Two builds of the commit give one digest, and the image holds exactly what it should.
test-image:
	hack/test-image.sh

## Tiers 1 and 2 (and the wire check): no cluster needed.
test: test-unit test-grpc test-wire

test-unit:
	$(CARGO) test --locked --lib --test render_golden --test render_golden_network --test render_golden_volumes

## Needs grpcio for the Python client test (deps).
test-grpc: deps
	$(CARGO) test --locked --test grpc --test grpc_socket --test grpc_clients

test-wire: deps
	$(CARGO) test --locked --test wire

## Tier 3 against a real API server; starts the local cluster unless KUBECONFIG is set.
test-integration:
	hack/test-integration.sh

## Tier 4: a real kubelet node, the real OpenShell gateway, CLI and supervisor (OPENSHELL_BIN_DIR),
## then the chart installed on it from the driver's image (E2E_CHART=0 leaves the chart out).
E2E_CHART ?= 1
test-e2e:
	E2E_CHART=$(E2E_CHART) hack/test-e2e.sh

## Request validation under generated input for a fixed budget (FUZZ_RUNS per target); no panic.
fuzz:
	$(CARGO) test --locked --test fuzz -- --nocapture

test-all: lint test fuzz test-integration test-e2e

## Create → Ready through the real gateway on the real node, p50 over 10 sandboxes, split by step.
bench-e2e:
	E2E_CHART=0 E2E_TEST_ARGS="bench_ --nocapture" hack/test-e2e.sh

## The launcher, a small static binary (the agent container's entrypoint).
launcher:
	hack/build-launcher.sh

e2e-up:
	hack/e2e/up.sh

e2e-down:
	hack/e2e/down.sh

## helm lint + golden templates; with KUBECONFIG also server-side dry-run and tier 3 under the chart's RBAC.
test-chart:
	hack/test-chart.sh

## Hot-path costs (render, cache Get/List, watch apply and replay), printed as a table.
bench:
	$(CARGO) bench --locked --bench driver

## The driver at BENCH_N sandboxes (1000; 10000 takes ~15 min) on the local cluster, through its
## socket: create vs raw API throughput, List/Get, watch lag, relist, RSS, API requests per call.
bench-cluster:
	hack/bench-cluster.sh

cluster-build:
	hack/cluster/build.sh

cluster-up:
	@hack/cluster/up.sh
	@echo "then: export KUBECONFIG=$(CURDIR)/.cluster/kubeconfig CLUSTER_DIR=$(CURDIR)/.cluster"

cluster-down:
	hack/cluster/down.sh

## What CI runs (.ci/run): the README's test command.
ci: test-all

## The driver's main job end to end on a local cluster (README's first command).
demo:
	hack/demo.sh

demo-openshift:
	hack/demo.sh --openshift
