module github.com/sopd/sop/bench

go 1.26.0

replace github.com/sopd/sop => ../

require (
	github.com/sopd/sop v0.0.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.49.0 // indirect
