# otelcol-eks: one command per habit. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# Every build and test shares these flags, so that `make build`, the release
# builds and `go test` reuse one build cache (a cold build of the
# distribution takes about 12 minutes on a 2-core machine).
export CGO_ENABLED := 0
export GOFLAGS := -trimpath -buildvcs=false
# Prometheus service discovery: Kubernetes and DNS, plus file and HTTP which
# Prometheus always keeps; the other ~25 mechanisms (cloud providers, Consul,
# ...) are left out of the binary. builder-config.yaml names the same tags.
# Given explicitly on every command (a -tags flag replaces GOFLAGS' one).
BUILD_TAGS := remove_all_sd,enable_kubernetes_sd,enable_dns_sd
# Anything that loads sigv4auth resolves AWS credentials through the SDK's
# default chain, which would otherwise ask the EC2 instance metadata service.
export AWS_EC2_METADATA_DISABLED := true

OCB_VERSION := v0.165.0
TOOLS_DIR := $(CURDIR)/.tools
OCB := $(TOOLS_DIR)/builder-$(OCB_VERSION)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/otelcol-eks
ARCHES := amd64 arm64
IMAGE ?= localhost/otelcol-eks:$(VERSION)
BUILDAH := buildah --storage-driver vfs
export OTELCOL_EKS_BIN := $(CURDIR)/$(BIN)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

## ---- the two commands of the README ----

.PHONY: run
run: build ensure-prometheus ## Run the EKS workshop locally: Prometheus (AMP stand-in, SigV4 checked), demo orders service, otelcol-eks.
	$(GO) build -o bin/workshop-local ./test/cmd/workshop-local
	exec bin/workshop-local -collector $(BIN)

.PHONY: test
test: check-generate build ensure-prometheus ## Every test CI runs: unit, golden, the built binary, end to end, against a real kube-apiserver.
	$(GO) test -tags $(BUILD_TAGS) -count=1 ./...
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory e2e-k8s
	$(MAKE) --no-print-directory chaos

## ---- building ----

$(OCB):
	mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) GOFLAGS= $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS_DIR)/builder $(OCB)

GENERATED := main.go main_others.go main_windows.go components.go

.PHONY: generate
generate: $(OCB) ## Regenerate cmd/otelcol-eks from builder-config.yaml with ocb (then gofmt).
	$(OCB) --config builder-config.yaml --skip-get-modules --skip-compilation
	cd cmd/otelcol-eks && gofmt -w $(GENERATED)

.PHONY: check-generate
check-generate: $(OCB) ## Fail when cmd/otelcol-eks differs from what ocb generates from builder-config.yaml.
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	sed 's#^\(  output_path:\).*#\1 '"$$tmp"'#' builder-config.yaml > "$$tmp/builder-config.yaml"; \
	$(OCB) --config "$$tmp/builder-config.yaml" --skip-get-modules --skip-compilation >/dev/null 2>&1; \
	(cd "$$tmp" && gofmt -w $(GENERATED)); \
	for f in $(GENERATED); do \
		diff -u "$$tmp/$$f" cmd/otelcol-eks/$$f || { echo "cmd/otelcol-eks/$$f is not what ocb generates from builder-config.yaml: run 'make generate'"; exit 1; }; \
	done; echo "cmd/otelcol-eks is what ocb generates"

.PHONY: build
build: ## Build bin/otelcol-eks for this machine (static, stripped, version from git).
	$(GO) build -tags $(BUILD_TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/otelcol-eks
	@ls -l $(BIN) | awk '{printf "%s: %.1f MB\n", $$NF, $$5/1e6}'

.PHONY: release
release: ## Build bin/otelcol-eks-linux-{amd64,arm64}.
	for arch in $(ARCHES); do \
		GOOS=linux GOARCH=$$arch $(GO) build -tags $(BUILD_TAGS) -ldflags "$(LDFLAGS)" -o $(BIN)-linux-$$arch ./cmd/otelcol-eks; \
	done
	@ls -l $(BIN)-linux-* | awk '{printf "%s: %.1f MB\n", $$NF, $$5/1e6}'

.PHONY: image
image: release ## Build the multi-arch image (one manifest, linux/amd64 + linux/arm64) with docker or buildah.
	mkdir -p bin/image-context
	cp /etc/ssl/certs/ca-certificates.crt bin/image-context/ca-certificates.crt
	mkdir -p bin/image-context/var-lib-otelcol-eks
	echo "otelcol-eks remote-write queue directory (remote_write_delivery)" > bin/image-context/var-lib-otelcol-eks/README
	if docker info >/dev/null 2>&1; then \
		docker buildx build --platform $$(printf 'linux/%s,' $(ARCHES) | sed 's/,$$//') -t $(IMAGE) .; \
	else \
		command -v buildah >/dev/null || $(MAKE) --no-print-directory install-deb PKG=buildah; \
		$(BUILDAH) manifest rm $(IMAGE) >/dev/null 2>&1 || true; \
		$(BUILDAH) manifest create $(IMAGE); \
		for arch in $(ARCHES); do \
			$(BUILDAH) bud --isolation chroot --platform linux/$$arch --build-arg TARGETARCH=$$arch --manifest $(IMAGE) -f Dockerfile . ; \
		done; \
		$(BUILDAH) manifest inspect $(IMAGE) | grep -o '"architecture": *"[a-z0-9]*"'; \
	fi

.PHONY: image-test
image-test: image ## Smoke-test the image: the entrypoint lists the components, as a non-root user.
	ctr=$$($(BUILDAH) from $(IMAGE)); trap '$(BUILDAH) rm '"$$ctr"' >/dev/null' EXIT; \
	user=$$($(BUILDAH) inspect --format '{{.OCIv1.Config.User}}' $$ctr); \
	echo "image user: $$user"; [ "$$user" = "10001:10001" ]; \
	$(BUILDAH) run --isolation chroot $$ctr -- /otelcol-eks components > bin/image-components.txt; \
	bin/otelcol-eks-linux-$$($(GO) env GOARCH) components > bin/host-components.txt; \
	diff -u bin/host-components.txt bin/image-components.txt; \
	grep -q 'k8smeta' bin/image-components.txt; \
	$(BUILDAH) run --isolation chroot $$ctr -- /otelcol-eks validate --config /etc/otelcol-eks/config.yaml > bin/image-validate.txt 2>&1 || true; \
	grep -q 'AMP_ENDPOINT' bin/image-validate.txt || { cat bin/image-validate.txt; echo "the default config must name AMP_ENDPOINT when it is unset"; exit 1; }; \
	owner=$$(stat -c %u:%g "$$($(BUILDAH) mount $$ctr)/var/lib/otelcol-eks"); $(BUILDAH) umount $$ctr >/dev/null; \
	echo "queue directory owner: $$owner"; [ "$$owner" = "10001:10001" ]; \
	echo "image smoke test: components listed, default config validated, user $$user"

## ---- tests ----

.PHONY: unit
unit: ## Unit and golden tests only (no binary, no services).
	$(GO) test -tags $(BUILD_TAGS) ./...

.PHONY: golden
golden: build ## Rewrite every golden file (and deploy/'s copies of configs/); review the diff like code.
	UPDATE_GOLDEN=1 $(GO) test -tags $(BUILD_TAGS) -count=1 ./...
	UPDATE_GOLDEN=1 $(GO) test -tags $(BUILD_TAGS),e2e -count=1 -run TestDeployCollectorsValidate ./test/dist/
	git status --short -- '*testdata*' deploy/

.PHONY: e2e
e2e: build ensure-prometheus k8s-binaries ## The workshop on one machine, asserted through PromQL; the built binary, the image contents and deploy/ as kustomize builds it.
	$(GO) test -tags $(BUILD_TAGS),e2e -count=1 -parallel 3 ./test/...

.PHONY: bench
bench: build ensure-prometheus k8s-binaries ## Side by side with Prometheus agent at 100 K series: the shipped pipeline, with the WAL, without persistence, without k8smeta (~22 min; rewrites bench/RESULTS.md), then the Go benchmarks. Not in CI.
	$(GO) build -tags $(BUILD_TAGS) -o bin/otelcol-eks-bench ./bench/cmd/otelcol-eks-bench
	bin/otelcol-eks-bench -collector $(BIN) $(BENCH_FLAGS)
	$(GO) test -tags $(BUILD_TAGS) -run '^$$' -bench . -benchmem ./processor/... ./components/...

.PHONY: lint
lint: ## gofmt and go vet.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "$$unformatted"; echo "run gofmt -w on these files"; exit 1; fi
	$(GO) vet -tags $(BUILD_TAGS),e2e,e2ek8s,chaos ./...

.PHONY: chaos
chaos: build ensure-prometheus k8s-binaries ## Fault injection: outages (one longer than a signature), restarts and a SIGKILL loop, backend answers, refused credentials, torn queue, full volume, overload, SIGTERM, Kubernetes API, bad input, secrets (CHAOS_LONG=1: 5-minute outages).
	$(GO) test -tags $(BUILD_TAGS),chaos -count=1 -timeout 20m -v ./test/chaos/

## ---- Kubernetes ----

.PHONY: k8s-binaries
k8s-binaries: ## Build kube-apiserver v1.37.2, etcd v3.6.16 and kustomize into ~/.cache/otelcol-eks (once; ~5 min cold).
	test/k8sbuild/build.sh

.PHONY: e2e-k8s
e2e-k8s: build ensure-prometheus k8s-binaries ## The workshop against a real kube-apiserver: deploy/'s RBAC, discovery, k8smeta, SigV4 remote write.
	$(GO) test -tags $(BUILD_TAGS),e2ek8s -count=1 -timeout 15m ./test/harness/testenv/kubeapiserver/ ./test/e2ek8s/

## ---- machine set-up ----

.PHONY: ensure-prometheus
ensure-prometheus: ## Install Prometheus (Debian package) when it is missing.
	@command -v prometheus >/dev/null || $(MAKE) --no-print-directory install-deb PKG=prometheus

.PHONY: install-deb
install-deb:
	@if [ "$$(id -u)" != 0 ]; then echo "$(PKG) is missing: run 'sudo apt-get install -y $(PKG)'"; exit 1; fi
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PKG)

.PHONY: clean
clean: ## Remove build outputs.
	rm -rf bin
