# ucspi: ucspi-tcp 0.88 as one Go binary. `make` builds bin/ucspi; `make test` runs
# every test (the differential ones skip unless Debian's ucspi-tcp is installed,
# which .ci/run does).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PREFIX  ?= /usr/local
GO      ?= go
GOARCH  ?= $(shell $(GO) env GOARCH)
# The entry point of every build is ucspi/startup's stub, which records the
# limits, signals and descriptors the process was started with before the Go
# runtime changes them (docs/process.md); amd64 and arm64 have one, other
# architectures build without it. The tests build through here too
# (internal/reftest), so this is the one place the flags are written.
ENTRY   := $(if $(filter amd64 arm64,$(GOARCH)),-E _rt0_ucspi)
LDFLAGS := $(ENTRY) -X main.version=$(VERSION)
# Where bin/ucspi and static write their binary.
BIN     ?= bin/ucspi
STATIC  ?= bin/ucspi-static

.PHONY: all bin/ucspi static test test-short install uninstall bench man image-tree clean

all: bin/ucspi

# Pure Go (no cgo): a static binary starts in half the time of a dynamic one,
# which every per-connection applet (rblsmtpd, fixcrio, argv0) pays.
bin/ucspi:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

# A static, stripped binary: what goes into the FROM scratch image.
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(STATIC) .

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

install: static
	scripts/install.sh --binary $(STATIC) $(DESTDIR)$(PREFIX)

uninstall:
	scripts/install.sh --uninstall $(DESTDIR)$(PREFIX)

man:
	$(GO) run ./internal/genman man/man1

# The file tree of the Docker image (see Dockerfile), for inspection on machines
# without a Docker engine.
image-tree: static
	rm -rf build/image && scripts/install.sh --binary $(STATIC) build/image

bench: static
	scripts/bench.sh

clean:
	rm -rf bin man build
