// Go goroutines at scale, the peer of bench/scale.lua (issue 9).  Standard
// library only; bench/run.sh builds it with `go build` into a temp dir.
// Usage: go_scale idle N | sleepers N
// idle: N goroutines blocked on one channel; prints
// "goroutine(<-chan) <N> <bytes per parked goroutine>", the RSS delta
// (/proc/self/statm, after runtime.GC) divided by N.
// sleepers: N goroutines each time.Sleep a random 0-100 ms (the PRNG
// sequence of every other sleepers benchmark); prints
// "goroutine(time.Sleep) <N> <wall ms> <peak RSS KiB>".
package main

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Resident set size in bytes, after two full collections.
func rss() int64 {
	runtime.GC()
	runtime.GC()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	var size, resident int64
	fmt.Sscan(string(b), &size, &resident)
	return resident * int64(os.Getpagesize())
}

// A field of /proc/self/status, in KiB (VmHWM).
func status(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	m := regexp.MustCompile(field + `:\s*(\d+)`).FindSubmatch(b)
	if m == nil {
		panic("no " + field + " in /proc/self/status")
	}
	return string(m[1])
}

func idle(n int) {
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	before := rss()
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			done.Done()
		}()
	}
	started.Wait()
	runtime.Gosched() // the last ones reach <-ch
	after := rss()
	fmt.Printf("goroutine(<-chan) %d %.0f\n", n, float64(after-before)/float64(n))
	close(ch)
	done.Wait()
}

func sleepers(n int) {
	var done sync.WaitGroup
	seed := int64(1)
	t0 := time.Now()
	done.Add(n)
	for i := 0; i < n; i++ {
		seed = seed * 16807 % 2147483647
		d := time.Duration(seed%100001) * time.Microsecond
		go func() {
			time.Sleep(d)
			done.Done()
		}()
	}
	done.Wait()
	wall := time.Since(t0).Seconds() * 1000
	fmt.Printf("goroutine(time.Sleep) %d %.0f %s\n", n, wall, status("VmHWM"))
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go_scale idle|sleepers N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "go_scale: N must be a positive integer")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "idle":
		idle(n)
	case "sleepers":
		sleepers(n)
	default:
		fmt.Fprintln(os.Stderr, "usage: go_scale idle|sleepers N")
		os.Exit(2)
	}
}
