module github.com/tamaxen/tamaxen

go 1.26.0

require (
	github.com/stretchr/testify v1.10.0
	github.com/usbarmory/tamago v1.26.0
	gvisor.dev/gvisor v0.0.0-20260413194555-9680d69bf798
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/google/btree v1.1.2 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	golang.org/x/exp v0.0.0-20231110203233-9a3e6036ecaa // indirect
	golang.org/x/sys v0.36.0 // indirect
	golang.org/x/time v0.12.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
