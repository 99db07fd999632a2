package redislock

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options configure a Client. The zero value connects to localhost:6379.
type Options struct {
	Addr     string // host:port; default "localhost:6379"
	Username string
	Password string
	DB       int
	TLS      *tls.Config // nil: plain TCP

	// PoolSize is the most connections kept open; default 10 × GOMAXPROCS.
	PoolSize int
	// MinIdleConns connections are kept open while idle, so that a renewal
	// after a quiet spell does not wait for a dial; default 2, negative
	// for none.
	MinIdleConns int
	// Timeouts of one dial, and of reading or writing one reply; defaults
	// 5 s, 3 s and 3 s. A ctx deadline, when sooner, applies too.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// CheckInterval is how often the Client reads the server's run_id
	// while it holds leases, to notice a restart between renewals; default
	// 1 s, negative to check only in the calls' own pipelines.
	CheckInterval time.Duration
	// OnRestart, if set, is called when a reply shows another run_id than
	// the one before: Redis restarted (or another server answers), and
	// the leases granted before are lost. For logs and metrics; it must
	// not block.
	OnRestart func(oldRunID, newRunID string)
}

const (
	defaultAddr          = "localhost:6379"
	defaultMinIdleConns  = 2
	defaultDialTimeout   = 5 * time.Second
	defaultIOTimeout     = 3 * time.Second
	defaultCheckInterval = time.Second
)

// withDefaults returns o with every unset field at its default.
func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	switch {
	case o.MinIdleConns == 0:
		o.MinIdleConns = defaultMinIdleConns
	case o.MinIdleConns < 0:
		o.MinIdleConns = 0
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultIOTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultIOTimeout
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = defaultCheckInterval
	}
	return o
}

// redisOptions maps o (with defaults applied) onto go-redis's options.
func (o Options) redisOptions() *redis.Options {
	return &redis.Options{
		Addr:         o.Addr,
		Username:     o.Username,
		Password:     o.Password,
		DB:           o.DB,
		TLSConfig:    o.TLS,
		ClientName:   "sop-lock",
		PoolSize:     o.PoolSize,
		MinIdleConns: o.MinIdleConns,
		DialTimeout:  o.DialTimeout,
		// One dial per attempt: a lease call fails within DialTimeout
		// when Redis is down, and the caller's loop retries.
		DialerRetries: 1,
		ReadTimeout:   o.ReadTimeout,
		WriteTimeout:  o.WriteTimeout,
		// Honour ctx deadlines on the socket, not only the timeouts.
		ContextTimeoutEnabled: true,
		// Lease calls are not idempotent to resend (see the package doc).
		MaxRetries: -1,
		// Maintenance push notifications are for managed Redis fleets; the
		// lease client gains nothing from them and skips the handshake.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// urlParams are the query parameters ParseURL accepts.
var urlParams = map[string]bool{
	"db": true, "pool_size": true, "min_idle_conns": true,
	"dial_timeout": true, "read_timeout": true, "write_timeout": true,
	"skip_verify": true,
}

// ParseURL reads Options from a URL:
//
//	redis://[[user]:password@]host[:port][/db][?param=value&...]
//	rediss://...    (TLS)
//
// with the query parameters db, pool_size, min_idle_conns, dial_timeout,
// read_timeout, write_timeout (a duration such as 500ms, or seconds) and
// skip_verify (TLS without certificate checks). Other parameters are an
// error, so that a setting the Client would ignore is not silently lost.
func ParseURL(s string) (Options, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Options{}, fmt.Errorf("redislock: parse url: %w", err)
	}
	for p := range u.Query() {
		if !urlParams[p] {
			return Options{}, fmt.Errorf("redislock: parse url: unsupported parameter %q", p)
		}
	}
	ro, err := redis.ParseURL(s)
	if err != nil {
		return Options{}, fmt.Errorf("redislock: parse url: %w", err)
	}
	return Options{
		Addr:         ro.Addr,
		Username:     ro.Username,
		Password:     ro.Password,
		DB:           ro.DB,
		TLS:          ro.TLSConfig,
		PoolSize:     ro.PoolSize,
		MinIdleConns: ro.MinIdleConns,
		DialTimeout:  ro.DialTimeout,
		ReadTimeout:  ro.ReadTimeout,
		WriteTimeout: ro.WriteTimeout,
	}, nil
}
