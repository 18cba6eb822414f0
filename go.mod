module github.com/tamaxen/tamaxen

go 1.26.0

require (
	github.com/stretchr/testify v1.10.0
	github.com/usbarmory/tamago v1.26.0
)
