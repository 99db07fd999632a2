package redislock

import (
	"runtime"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	ro := Options{}.withDefaults().redisOptions()
	if ro.Addr != "localhost:6379" || ro.PoolSize != 10*runtime.GOMAXPROCS(0) || ro.MinIdleConns != 2 ||
		ro.DialTimeout != 5*time.Second || ro.ReadTimeout != 3*time.Second || ro.WriteTimeout != 3*time.Second ||
		ro.MaxRetries != -1 || ro.DialerRetries != 1 || !ro.ContextTimeoutEnabled {
		t.Fatalf("defaults: %+v", ro)
	}
	if o := (Options{}).withDefaults(); o.CheckInterval != time.Second {
		t.Fatalf("default check interval %v", o.CheckInterval)
	}
}

func TestOptionsMapped(t *testing.T) {
	o := Options{
		Addr: "redis.example:6380", Username: "u", Password: "p", DB: 3,
		PoolSize: 7, MinIdleConns: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 4 * time.Second,
		CheckInterval: -1,
	}.withDefaults()
	ro := o.redisOptions()
	if ro.Addr != "redis.example:6380" || ro.Username != "u" || ro.Password != "p" || ro.DB != 3 ||
		ro.PoolSize != 7 || ro.MinIdleConns != 0 ||
		ro.DialTimeout != time.Second || ro.ReadTimeout != 2*time.Second || ro.WriteTimeout != 4*time.Second {
		t.Fatalf("mapped: %+v", ro)
	}
	if o.CheckInterval >= 0 {
		t.Fatalf("a negative check interval became %v", o.CheckInterval)
	}
}

func TestParseURL(t *testing.T) {
	o, err := ParseURL("rediss://u:p@h:6390/2?pool_size=20&min_idle_conns=4&dial_timeout=2s&read_timeout=500ms&write_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "h:6390" || o.Username != "u" || o.Password != "p" || o.DB != 2 || o.TLS == nil ||
		o.PoolSize != 20 || o.MinIdleConns != 4 ||
		o.DialTimeout != 2*time.Second || o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != time.Second {
		t.Fatalf("parsed: %+v", o)
	}
	o, err = ParseURL("redis://h")
	if err != nil || o.Addr != "h:6379" || o.TLS != nil {
		t.Fatalf("plain url: %+v, %v", o, err)
	}
	for _, bad := range []string{"redis://h?max_retries=2", "http://h", "redis://h?pool_size=x", "::"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}
