// Go versions of the spool scheduler workloads (benches/workloads), for
// comparing with Go on the same machine: GOMAXPROCS=2 go test -bench . -count 3
// BenchmarkPingPongSeq is the sequential two-goroutine ping-pong behind the
// "238 ns per round" reference; BenchmarkPingPong has the shape of our ping_pong.

package gobench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const numSpawn = 10000

func BenchmarkSpawnManyLocal(b *testing.B) {
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		go func() {
			var rem atomic.Int64
			rem.Store(numSpawn)
			all := make(chan struct{})
			for j := 0; j < numSpawn; j++ {
				go func() {
					if rem.Add(-1) == 0 {
						close(all)
					}
				}()
			}
			<-all
			close(done)
		}()
		<-done
	}
}

func BenchmarkYieldMany(b *testing.B) {
	tasks := 2 * runtime.GOMAXPROCS(0)
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(tasks)
		for t := 0; t < tasks; t++ {
			go func() {
				for k := 0; k < 1000; k++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	}
}

func BenchmarkPingPong(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var rem atomic.Int64
		rem.Store(1000)
		all := make(chan struct{})
		go func() {
			for r := 0; r < 1000; r++ {
				go func() {
					c1 := make(chan struct{}, 1)
					c2 := make(chan struct{}, 1)
					go func() { <-c1; c2 <- struct{}{} }()
					c1 <- struct{}{}
					<-c2
					if rem.Add(-1) == 0 {
						close(all)
					}
				}()
			}
		}()
		<-all
	}
}

func link(n int, done chan struct{}) {
	if n == 0 {
		close(done)
	} else {
		go link(n-1, done)
	}
}

func BenchmarkChainedSpawn(b *testing.B) {
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		go link(1000, done)
		<-done
	}
}

func BenchmarkTimers(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var rem atomic.Int64
		rem.Store(numSpawn)
		all := make(chan struct{})
		go func() {
			for j := 0; j < numSpawn; j++ {
				go func() {
					time.Sleep(time.Millisecond)
					if rem.Add(-1) == 0 {
						close(all)
					}
				}()
			}
		}()
		<-all
	}
}

func BenchmarkPingPongSeq(b *testing.B) {
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
