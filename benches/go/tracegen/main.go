// Command tracegen writes a Go execution trace of one small workload, as
// test data for spool-trace's profiles (tracer/viewer/tests/profiles.rs
// compares spool-trace's totals with `go tool trace -pprof=KIND` on them).
//
//	go run ./tracegen -workload http -trace http.trace
//
// Workloads (each bounded in count and time, loopback only):
//   - http: net/http server on 127.0.0.1:0 under load from 16 keep-alive clients
//     (network waits, syscalls, scheduler latency);
//   - chan: a channel pipeline with select, sync.Mutex, RWMutex, WaitGroup and
//     Cond (sync waits);
//   - syscall: goroutines doing blocking file and pipe I/O (syscall sections,
//     Ps retaken from goroutines in syscalls).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	workload := flag.String("workload", "chan", "http, chan or syscall")
	out := flag.String("trace", "", "trace file to write")
	scale := flag.Int("n", 1, "work multiplier")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "tracegen: -trace FILE is required")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracegen:", err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, "tracegen:", err)
		os.Exit(1)
	}
	switch *workload {
	case "http":
		err = httpLoad(*scale)
	case "chan":
		chanLoad(*scale)
	case "syscall":
		err = syscallLoad(*scale)
	default:
		err = fmt.Errorf("unknown workload %q (http, chan or syscall)", *workload)
	}
	trace.Stop()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracegen:", err)
		os.Exit(1)
	}
}

// httpLoad: 16 clients x 50*n requests against a handler that does a little work.
func httpLoad(n int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	hits := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		io.WriteString(w, "hello from tracegen\n")
	})}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50*n; i++ {
				resp, err := client.Get(url)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	srv.Close()
	select {
	case err := <-errs:
		return err
	default:
	}
	if hits != 16*50*n {
		return fmt.Errorf("http: %d requests served, want %d", hits, 16*50*n)
	}
	return nil
}

// chanLoad: producers -> workers -> collector over unbuffered channels, with
// select on a ticker, a Mutex- and RWMutex-protected map, a WaitGroup and a Cond.
func chanLoad(n int) {
	jobs := make(chan int)
	results := make(chan int)
	quit := make(chan struct{})
	var mu sync.Mutex
	var rw sync.RWMutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				rw.RLock()
				_ = seen[j%7]
				rw.RUnlock()
				mu.Lock()
				v := j * j
				mu.Unlock()
				select {
				case results <- v:
				case <-quit:
					return
				}
			}
		}()
	}
	var cmu sync.Mutex
	cond := sync.NewCond(&cmu)
	done := 0
	go func() {
		for i := 0; i < 2000*n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() {
		for r := range results {
			rw.Lock()
			seen[r%7]++
			rw.Unlock()
		}
		cmu.Lock()
		done = 1
		cmu.Unlock()
		cond.Broadcast()
	}()
	wg.Wait()
	close(results)
	cmu.Lock()
	for done == 0 {
		cond.Wait()
	}
	cmu.Unlock()
	close(quit)
}

// syscallLoad: 8 goroutines each write and fsync a temp file and pass bytes
// through a pipe, 200*n times.
func syscallLoad(n int) error {
	dir, err := os.MkdirTemp("", "tracegen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(g)))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			r, w, err := os.Pipe()
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			defer w.Close()
			buf := make([]byte, 512)
			for i := 0; i < 200*n; i++ {
				if _, err := f.Write(buf); err != nil {
					errs <- err
					return
				}
				if i%20 == 0 {
					f.Sync()
				}
				w.Write(buf[:64])
				r.Read(buf[:64])
			}
		}(g)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}
