# A FROM scratch image: the static ucspi binary, one symlink per applet and a
# minimal /etc/services, laid out by the same scripts/install.sh as `make
# install` (`make image-tree` builds this tree into build/image, for machines
# without a Docker engine). The image has no program of its own to serve: derive
# one that adds it (README.md, "The container image").
#
# Capabilities: tcpserver needs CAP_NET_BIND_SERVICE to bind a port below 1024,
# and CAP_SETUID and CAP_SETGID for -u and -g (numbers, or names once a derived
# image adds /etc/passwd and /etc/group). Docker gives root all three by
# default; under --cap-drop=ALL add back those the command line needs, or run as
# a --user other than root on a port above 1023, without -u and -g.
#
# The version comes from --build-arg VERSION=..., else from a VERSION file in
# the context (a release tarball), else it is "dev": .git stays out of the
# context.
FROM golang:1.26.8 AS build
WORKDIR /src
# The modules in a layer of their own, fetched again only when go.mod or go.sum
# change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
RUN make image-tree ${VERSION:+VERSION=$VERSION}

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="ucspi" \
      org.opencontainers.image.description="ucspi-tcp 0.88 (tcpserver, tcprules, tcpclient, rblsmtpd...) as one static binary" \
      org.opencontainers.image.licenses="ISC" \
      org.opencontainers.image.source="https://github.com/ucspi-go/ucspi" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /src/build/image/ /
ENV PATH=/bin
ENTRYPOINT ["/bin/tcpserver"]
