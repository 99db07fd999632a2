package cassandra

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOpenInvalidConfig(t *testing.T) {
	_, err := Open(context.Background(), Config{Hosts: []string{"h"}, Keyspace: "No"})
	if err == nil || !strings.Contains(err.Error(), "keyspace") {
		t.Fatalf("Open: %v, want an error naming the keyspace", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	_, err := Open(context.Background(), Config{Hosts: []string{"127.0.0.1:1"}, ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "connect to [127.0.0.1:1]") {
		t.Fatalf("Open: %v, want a connect error naming the hosts", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Open took %v to fail", d)
	}
	t.Log(err)
}

func TestOpenContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, Config{Hosts: []string{"127.0.0.1:1"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open: %v, want context.Canceled", err)
	}
}
