// Command fill requests N distinct URLs of a server with C connections and
// prints the server's resident memory afterwards (VmRSS of -pid, when
// given): how the load script measures what storing N responses costs.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	base := flag.String("url", "", "base URL; requests go to <url>/fill/<i>")
	n := flag.Int("n", 10000, "number of distinct URLs")
	offset := flag.Int("offset", 0, "first URL index")
	conns := flag.Int("c", 16, "concurrent connections")
	pid := flag.Int("pid", 0, "process whose VmRSS to print afterwards")
	flag.Parse()
	if *base == "" {
		log.Fatal("fill: -url is required")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns}}
	var next, failed atomic.Int64
	next.Store(int64(*offset))
	end := int64(*offset + *n)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < end; i = next.Add(1) - 1 {
				resp, err := client.Get(fmt.Sprintf("%s/fill/%d", *base, i))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		log.Fatalf("fill: %d of %d requests failed", f, *n)
	}
	if *pid > 0 {
		fmt.Printf("rss_kib %d\n", rssKiB(*pid))
	}
}

// rssKiB is the VmRSS of pid in KiB, from /proc.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatalf("fill: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb
		}
	}
	log.Fatalf("fill: no VmRSS for %d", pid)
	return 0
}
