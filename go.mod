module github.com/ucspi-go/ucspi

go 1.26.0

require (
	github.com/colinmarc/cdb v0.0.0-20190223170904-60f317823f70
	github.com/miekg/dns v1.1.73
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	golang.org/x/net v0.57.0
	golang.org/x/sys v0.50.0
)

require github.com/inconshreveable/mousetrap v1.1.0 // indirect
