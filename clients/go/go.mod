module github.com/konorkestra/konorkestra/clients/go

go 1.19
