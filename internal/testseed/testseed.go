// Package testseed gives randomized tests a seed they print, so that any
// failure can be replayed: set SOP_SEED=N, or pass -seed=N to go test.
package testseed

import (
	"flag"
	"os"
	"strconv"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (default: SOP_SEED or the clock)")

// Seed returns the seed for a randomized test and logs how to replay it.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if s := os.Getenv("SOP_SEED"); seed == 0 && s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOP_SEED=%q is not a seed: %v", s, err)
		}
		seed = v
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with SOP_SEED=%d or -seed=%d)", seed, seed, seed)
	return seed
}
