// Go versions of the benches/sync.rs workloads (issue 13), for comparing
// spool's channels and Mutex with Go's on the same machine:
//   GOMAXPROCS=2 go test -bench 'Chan|Mutex' -count 3
// Each op is one unit of the Rust bench's iteration: one ping-pong round,
// one message, one lock/unlock pair.

package gobench

import (
	"sync"
	"testing"
)

// One round: a value to the echo goroutine and back, over two unbuffered
// channels (benches/sync.rs ping_pong).
func BenchmarkChanPingPong(b *testing.B) {
	c1 := make(chan int)
	c2 := make(chan int)
	go func() {
		for v := range c1 {
			c2 <- v
		}
	}()
	for i := 0; i < b.N; i++ {
		c1 <- i
		<-c2
	}
	close(c1)
}

// 4 producers, 4 consumers, b.N messages through a channel of capacity
// 1024 (benches/sync.rs mpmc).
func BenchmarkChanMPMC(b *testing.B) {
	c := make(chan int, 1024)
	var wg sync.WaitGroup
	per := b.N/4 + 1
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				c <- i
			}
		}()
	}
	var cw sync.WaitGroup
	for k := 0; k < 4; k++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for range c {
			}
		}()
	}
	wg.Wait()
	close(c)
	cw.Wait()
}

// 8 goroutines share b.N lock/unlock pairs of one sync.Mutex
// (benches/sync.rs mutex).
func BenchmarkMutexContended(b *testing.B) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	per := b.N/8 + 1
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
