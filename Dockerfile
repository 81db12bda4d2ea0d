# A FROM scratch image: the static ucspi binary and one symlink per applet, built
# by the same install.sh as `make install` (`make image-tree` builds this tree into
# build/image for machines without a Docker engine).
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN make static && scripts/install.sh --binary bin/ucspi-static /image

FROM scratch
COPY --from=build /image/ /
ENV PATH=/bin
ENTRYPOINT ["/bin/tcpserver"]
