// Command anchors runs one of the tracer-cost anchor workloads of issue 14
// (spawn, chan ping-pong, Gosched) for N operations, optionally under
// runtime/trace, and prints the time per operation: Go's side of the
// comparison with spool's examples/anchors.rs (same shapes, same output
// line), driven by benches/anchors.sh.
//
//	go run ./anchors -workload yield -n 10000000 [-trace /tmp/go.trace]
//
// Workloads (ops = N):
//   - spawn: one goroutine spawns N goroutines in waves of 10,000, each calling
//     wg.Done, and waits for each wave (per op: one spawn, run and exit);
//   - pingpong: two goroutines bounce a value N times over two unbuffered
//     channels (per op: one round, two sends and two receives);
//   - yield: 2 x GOMAXPROCS goroutines call runtime.Gosched N / (2 x GOMAXPROCS)
//     times each (per op: one yield).
//
// The timed part is the workload only: the trace (if any) is started
// before and stopped after it. Output: `go WORKLOAD traced|untraced N ops:
// W ns/op wall, C ns/op cpu` (CPU = the process's user + system time over
// the workload, all threads, from getrusage).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"syscall"
	"time"
)

const wave = 10000

func spawn(n int) {
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for left := n; left > 0; left -= wave {
			k := min(left, wave)
			wg.Add(k)
			for j := 0; j < k; j++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		close(done)
	}()
	<-done
}

func pingpong(n int) {
	a, b := make(chan int), make(chan int)
	go func() {
		for v := range a {
			b <- v
		}
	}()
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			a <- i
			if <-b != i {
				panic("pingpong: wrong value")
			}
		}
		close(a)
		close(done)
	}()
	<-done
}

func yield(n int) {
	tasks := 2 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func() {
			for k := 0; k < n/tasks; k++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
}

func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	workload := flag.String("workload", "yield", "spawn, pingpong or yield")
	n := flag.Int("n", 1000000, "operations")
	out := flag.String("trace", "", "write an execution trace here")
	flag.Parse()
	run := map[string]func(int){"spawn": spawn, "pingpong": pingpong, "yield": yield}[*workload]
	if run == nil {
		fmt.Fprintf(os.Stderr, "unknown workload %q (spawn, pingpong, yield)\n", *workload)
		os.Exit(2)
	}
	mode := "untraced"
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		mode = "traced"
	}
	c0, t0 := cpu(), time.Now()
	run(*n)
	wall, c := time.Since(t0), cpu()-c0
	if *out != "" {
		trace.Stop()
	}
	fmt.Printf("go %s %s %d ops: %.1f ns/op wall, %.1f ns/op cpu\n", *workload, mode, *n,
		float64(wall.Nanoseconds())/float64(*n), float64(c.Nanoseconds())/float64(*n))
}
