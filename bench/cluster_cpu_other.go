//go:build !linux

package main

import "time"

// processCPU needs /proc; elsewhere the cluster case reports no CPU shares.
func processCPU() map[string]time.Duration { return nil }

func machineCPU() time.Duration { return 0 }
