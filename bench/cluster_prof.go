package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sopd/sop/faults"
)

// serverProfiles, with -server-profiles, takes a CPU profile of each
// process in addrs (name -> host:port of its /debug/pprof/) over the next
// d, writing each to the directory as <case>-<side>-<name>.pprof; wait
// blocks until all are written and returns the first failure. Without the
// flag it does nothing.
func (e *env) serverProfiles(side, name string, addrs map[string]string, d time.Duration) (wait func() error) {
	if e.cfg.serverProf == "" || len(addrs) == 0 {
		return func() error { return nil }
	}
	secs := int((d + time.Second - 1) / time.Second)
	if err := os.MkdirAll(e.cfg.serverProf, 0o755); err != nil {
		return func() error { return fmt.Errorf("-server-profiles: %w", err) }
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for proc, addr := range addrs {
		path := filepath.Join(e.cfg.serverProf, fmt.Sprintf("%s-%s-%s.pprof", name, side, proc))
		wg.Go(func() {
			if err := fetchProfile(addr, secs, path); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("profile %s: %w", proc, err)
				}
				mu.Unlock()
			}
		})
	}
	return func() error {
		wg.Wait()
		if first == nil {
			e.logf("%s %s %s: server profiles in %s", e.suite.name, name, side, e.cfg.serverProf)
		}
		return first
	}
}

func fetchProfile(addr string, secs int, path string) error {
	hc := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second}
	resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// natsProfiles names the profiling address of each server of c.
func natsProfiles(c *faults.NATS) map[string]string {
	m := map[string]string{}
	for _, s := range c.Servers {
		if s.ProfileAddr != "" {
			m["nats-"+s.Name] = s.ProfileAddr
		}
	}
	return m
}
