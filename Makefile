# ucspi: ucspi-tcp 0.88 as one Go binary. `make` builds bin/ucspi; `make test` runs
# every test (the differential ones skip unless Debian's ucspi-tcp is installed,
# which .ci/run does).
#
# make install PREFIX=/usr/local DESTDIR=/tmp/stage installs into
# $(DESTDIR)$(PREFIX)/bin (ucspi and a link per applet) and
# $(DESTDIR)$(PREFIX)/share/man/man1 (a page per applet); DESTDIR, empty by
# default, is the staging root a package build installs under.
#
# The version is the VERSION file's when there is one (a release tarball, made
# by `make dist`), else `git describe`'s.
VERSION ?= $(shell cat VERSION 2>/dev/null || git describe --always --dirty 2>/dev/null || echo dev)
PREFIX  ?= /usr/local
DESTDIR ?=
GO      ?= go
GOARCH  ?= $(shell $(GO) env GOARCH)
# The entry point of every build is ucspi/startup's stub, which records the
# limits, signals and descriptors the process was started with before the Go
# runtime changes them (docs/process.md); amd64 and arm64 have one, other
# 64-bit architectures build without it. The tests build through here too
# (internal/reftest), so this is the one place the flags are written.
ENTRY   := $(if $(filter amd64 arm64,$(GOARCH)),-E _rt0_ucspi)
LDFLAGS := $(ENTRY) -X main.version=$(VERSION)
# With the stub, the kernel maps at exec only the stub's window of text, the
# page of headers and the file-backed part of the writable segment; the stub
# maps the rest of the text, the read-only data and the BSS itself, after
# raising the limits (internal/lazybss: 6 MB of text and read-only data would
# not fit softlimit -m 5000000, crypto's 32 MB buffer not -m 20000000).
# It also writes the binary anew, in 64 kB write(2)s, so that the page cache
# holds it in 64 kB folios as it holds an installed copy, not in the 4 kB
# pages the linker's mapping leaves, which cost every start about a tenth
# more, nor in 2 MB ones, which a fault maps whole (see write in the tool).
# The tool runs here, whatever GOARCH the binary is for.
LAZYBSS  = $(if $(ENTRY),env -u GOARCH -u GOOS $(GO) run ./internal/lazybss $(1))
# Where bin/ucspi and static write their binary.
BIN     ?= bin/ucspi
STATIC  ?= bin/ucspi-static

.PHONY: all bin/ucspi static test test-short install uninstall bench man image-tree dist clean

all: bin/ucspi

# Pure Go (no cgo): a static binary starts in half the time of a dynamic one,
# which every per-connection applet (rblsmtpd, fixcrio, argv0) pays.
bin/ucspi:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .
	$(call LAZYBSS,$(BIN))

# A static, stripped binary: what goes into the FROM scratch image.
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(STATIC) .
	$(call LAZYBSS,$(STATIC))

# rts.tests leaves some timing to chance (its clients hang up without waiting
# for the server's program, and the next connection may come while the last
# one's lookups run): it runs alone, after the other packages, not beside
# their tests on a busy machine.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/internal/rts$$')
	$(GO) test -count=1 -timeout 5m ./internal/rts

test-short:
	$(GO) test -short ./...

install: static man
	scripts/install.sh --binary $(STATIC) --man man/man1 $(DESTDIR)$(PREFIX)

uninstall:
	scripts/install.sh --uninstall $(DESTDIR)$(PREFIX)

man:
	rm -rf man/man1 && $(GO) run ./internal/genman man/man1 $(VERSION)

# The file tree of the Docker image (see Dockerfile), for inspection on machines
# without a Docker engine.
image-tree: static
	rm -rf build/image && scripts/install.sh --image --binary $(STATIC) build/image

# A source tarball of the git HEAD that knows its version without git:
# build/ucspi-VERSION.tar.gz, VERSION being HEAD's (never "-dirty": the tarball
# holds HEAD, not the working tree).
dist:
	scripts/dist.sh "$$(git describe --always)" build

bench: static
	scripts/bench.sh

clean:
	rm -rf bin man build
