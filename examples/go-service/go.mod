module github.com/konorkestra/konorkestra/examples/go-service

go 1.19

require github.com/konorkestra/konorkestra/clients/go v0.0.0

replace github.com/konorkestra/konorkestra/clients/go => ../../clients/go
