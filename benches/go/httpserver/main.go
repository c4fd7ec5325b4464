// Command httpserver is Go's net/http "hello world", the Go side of the
// HTTP benchmark (benches/http/run.sh): same response body as
// examples/http_server.rs. Run with GOMAXPROCS=2.
//
//	go run ./httpserver 127.0.0.1:3002
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:3000"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, World!"))
	})
	fmt.Println("listening on http://" + addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
