// Command spooltracedemo writes a small Go execution trace used as a test
// fixture for spool's trace reader: goroutines, channels, sleeps, a mutex,
// and runtime/trace tasks, regions and logs.
//
//	go run . out.trace        # the small fixture (go126.trace)
//	go run . big.trace 250000 # plus N ping-pong round trips over 64 pairs (a ~1M-event trace)
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"runtime/trace"
	"sync"
	"time"
)

func worker(ctx context.Context, id int, in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range in {
		trace.WithRegion(ctx, "work", func() {
			time.Sleep(200 * time.Microsecond)
		})
		trace.Logf(ctx, "worker", "id=%d v=%d", id, v)
		out <- v * v
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	defer trace.Stop()

	ctx, task := trace.NewTask(context.Background(), "pipeline")
	in := make(chan int)
	out := make(chan int, 4)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go worker(ctx, i, in, out, &wg)
	}
	go func() {
		for i := 0; i < 40; i++ {
			in <- i
		}
		close(in)
	}()
	go func() { wg.Wait(); close(out) }()
	sum := 0
	for v := range out {
		sum += v
	}
	task.End()

	var mu sync.Mutex
	var wg2 sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg2.Add(1)
		go func(i int) {
			defer wg2.Done()
			_, t := trace.NewTask(context.Background(), "sleeper")
			time.Sleep(time.Duration(i+1) * 100 * time.Microsecond)
			mu.Lock()
			sum++
			mu.Unlock()
			t.End()
		}(i)
	}
	wg2.Wait()
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			panic(err)
		}
		pingPong(n)
	}
	fmt.Fprintln(os.Stderr, "sum", sum)
}

// pingPong runs n round trips spread over 64 goroutine pairs.
func pingPong(n int) {
	const pairs = 64
	var wg sync.WaitGroup
	for p := 0; p < pairs; p++ {
		ping, pong := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < n/pairs; i++ {
				ping <- i
				<-pong
			}
			close(ping)
		}()
		go func() {
			defer wg.Done()
			for v := range ping {
				pong <- v
			}
		}()
	}
	wg.Wait()
}
