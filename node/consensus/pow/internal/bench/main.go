// Command bench measures the proof-of-work miner's hash rate against a raw
// SHA-256 loop over the same header bytes, on the same number of goroutines,
// in one run, and prints both and their ratio (target: at least 0.9).
//
//	go run ./node/consensus/pow/internal/bench [-threads N] [-duration 3s] [-rounds 2]
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus/pow"
)

func main() {
	threads := flag.Int("threads", runtime.GOMAXPROCS(0), "goroutines for both the miner and the raw loop")
	duration := flag.Duration("duration", 3*time.Second, "how long each measurement runs")
	rounds := flag.Int("rounds", 2, "alternating miner / raw measurements of each")
	flag.Parse()
	if *threads < 1 || *duration <= 0 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -threads, -duration and -rounds must be positive")
		os.Exit(2)
	}

	// A realistic header; a difficulty no search meets, so both sides hash
	// for the whole duration.
	h := chain.Header{ChainID: chain.DevChainID, Height: 1234, Time: time.Now().UnixNano(), Proposer: "node0",
		TxCount: 4096, Difficulty: math.MaxUint64}
	h.Parent[0], h.TxRoot[0], h.StateRoot[0] = 1, 2, 3
	enc, _ := h.AppendBinary(nil)

	var minerRate, rawRate float64
	for r := range *rounds {
		m := mine(h, *threads, *duration)
		raw := rawLoop(enc, *threads, *duration)
		fmt.Printf("round %d: miner %.0f H/s, raw sha256 %.0f H/s\n", r+1, m, raw)
		minerRate += m / float64(*rounds)
		rawRate += raw / float64(*rounds)
	}
	fmt.Printf("header: %d bytes, %d goroutines, %s per measurement, %d rounds\n", len(enc), *threads, *duration, *rounds)
	fmt.Printf("miner:      %12.0f hashes/s\n", minerRate)
	fmt.Printf("raw sha256: %12.0f hashes/s\n", rawRate)
	fmt.Printf("ratio miner/raw: %.3f (target >= 0.9)\n", minerRate/rawRate)
}

// mine runs the product's miner for d and returns its hash rate.
func mine(h chain.Header, threads int, d time.Duration) float64 {
	m := pow.NewMiner(threads, 0)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	_, attempts, _ := m.Mine(ctx, h)
	return float64(attempts) / time.Since(start).Seconds()
}

// rawLoop is the baseline: SHA-256 of the header bytes with the nonce
// rewritten in place, nothing else, on the same number of goroutines.
func rawLoop(enc []byte, threads int, d time.Duration) float64 {
	var (
		total atomic.Uint64
		stop  atomic.Bool
		wg    sync.WaitGroup
		sink  atomic.Uint64
	)
	start := time.Now()
	for t := range threads {
		buf := append([]byte(nil), enc...)
		off := len(buf) - chain.NonceBytes
		wg.Go(func() {
			var n, acc uint64 = uint64(t) << 56, 0
			for !stop.Load() {
				for range 4096 {
					binary.BigEndian.PutUint64(buf[off:], n)
					sum := sha256.Sum256(buf)
					acc ^= binary.BigEndian.Uint64(sum[:8])
					n++
				}
				total.Add(4096)
			}
			sink.Add(acc)
		})
	}
	time.AfterFunc(d, func() { stop.Store(true) })
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}
