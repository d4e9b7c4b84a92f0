# gollm — build, test and benchmark. `make test` is what CI runs.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 60s
TEST_FUZZTIME ?= 3s

.PHONY: all build run test deps oracle openai chromium llamacpp slurm vet fuzz bench bench-kernels clean reference-models

# The CUDA build (make kernels, cuda-vet, cuda-emu-test, cuda-bins): docs/GPU.md.
include cuda/kernels.mk

all: build

# deps installs what the cgo build needs (OpenBLAS) when it is missing.
deps:
	@if ! ( [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || [ -f /usr/include/openblas/cblas.h ] ) \
	   || ! ldconfig -p 2>/dev/null | grep -q libopenblas; then \
		echo "installing libopenblas-dev (needed for the OpenBLAS GEMM)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libopenblas-dev; \
	fi

# npm-install installs the npm package $(2) into $(1) unless it is there,
# installing nodejs and npm from Debian first when missing; on failure it says
# which test ($(3)) will be skipped.
define npm-install
	@if [ -d $(1)/node_modules/$(firstword $(subst @, ,$(2))) ]; then :; \
	else \
		if ! command -v npm >/dev/null; then \
			echo "installing nodejs and npm (for $(3))"; \
			if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm \
			|| echo "could not install npm: $(3) will be skipped"; \
		fi; \
		echo "installing the npm package $(2) into $(1)"; \
		mkdir -p $(1) && npm install --prefix $(1) --no-audit --no-fund --silent $(2) \
		|| echo "npm install failed: $(3) will be skipped"; \
	fi
endef

# oracle installs the Hugging Face tokenizers Node bindings (npm package
# tokenizers) into .cache/oracle, where the tokenizer/bpetrain conformance
# test finds them (it skips, saying so, without Node or the package).
ORACLE_DIR ?= .cache/oracle
oracle:
	$(call npm-install,$(ORACLE_DIR),tokenizers@0.23.2,the Hugging Face conformance test of tokenizer/bpetrain)

# openai installs the official openai npm client into .cache/openai, where
# serve's TestOpenAINodeClient drives gollm serve with it (it skips, saying
# so, without Node or the package).
OPENAI_DIR ?= .cache/openai
openai:
	$(call npm-install,$(OPENAI_DIR),openai@7.55.0,the openai client test of gollm serve)

# llamacpp installs the npm package node-llama-cpp (pinned; it ships
# prebuilt llama.cpp CPU binaries) into .cache/llamacpp, where
# scripts/llamacpp/greedy.mjs and the GGUF export test (cmd/gollm
# TestExportGGUFLlamaCpp) find it; the test skips, saying so, without Node
# or the package. Nothing is downloaded or built when it runs.
LLAMACPP_DIR ?= .cache/llamacpp
llamacpp:
	$(call npm-install,$(LLAMACPP_DIR),node-llama-cpp@3.21.1,the llama.cpp check of the GGUF export)

# chromium installs Debian's chromium when missing: the real-browser test
# of the HTML report (bench/report TestChromium) renders the page headless
# with it (and skips, saying so, without it).
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	else \
		echo "installing chromium (for the headless-browser test of gollm report's HTML)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium \
		|| echo "could not install chromium: the browser test of the HTML report will be skipped"; \
	fi

# slurm installs Debian's slurm-wlm (slurmctld, slurmd, the client
# commands) and munge when missing: cmd/gollm TestBenchSlurm starts a
# single-node Slurm in a temporary folder with them (as root; it skips,
# saying so, without them or without root). docs/CLUSTER.md.
slurm:
	@if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then :; \
	else \
		echo "installing slurm-wlm and munge (for the Slurm test of gollm bench --executor slurm)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq slurm-wlm munge \
		|| echo "could not install slurm-wlm and munge: the Slurm test of gollm bench will be skipped"; \
	fi

build: deps
	$(GO) build -o $(BIN)/gollm ./cmd/gollm

# run: the default job — the built-in LLMCBench study (gollm bench: every
# model × method × task of the default config, resumable; then gollm report,
# whose last line is the path of the HTML report).
STUDY ?= gollm-study
run: build
	$(BIN)/gollm bench --log-samples --out $(STUDY)
	$(BIN)/gollm report --results $(STUDY)

vet:
	$(GO) vet ./...

# test: vet, the whole suite (OpenBLAS build; with chromium for the HTML
# report's browser test; with a single-node Slurm for gollm bench --executor
# slurm), the whole suite in the pure-Go build, and a short run
# (TEST_FUZZTIME) of every fuzz target.
test: deps oracle openai chromium llamacpp slurm vet
	$(GO) test ./...
	CGO_ENABLED=0 $(GO) test ./...
	FUZZTIME=$(TEST_FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# fuzz: every fuzz target for FUZZTIME each, then a table of executions
# (scripts/fuzz.sh); fails if any target finds a crasher.
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# bench: the CPU benchmarks docs/PERFORMANCE.md records (logs in bench-out/).
bench: deps
	bash scripts/cpu-bench.sh

# reference-models: the world, its tokenizer and the reference models of
# refmodels/models.tsv, trained, converted to bf16 into refmodels/<name>/ and
# scored (scripts/reference-models.sh; resumable, BUDGET=seconds per model
# and invocation; hours of CPU, not part of CI).
reference-models: build
	bash scripts/reference-models.sh

clean:
	rm -rf $(BIN)
