package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

// remote is the connection settings every client command takes.
type remote struct {
	endpoint  string
	token     string
	tokenFile string
	domain    string
	cacert    string
	insecure  bool
	timeout   time.Duration
	s         *settings
}

// addRemote defines the client flags on cmd, each also settable by its
// environment variable.
func addRemote(cmd *cobra.Command) *remote {
	r := &remote{endpoint: "http://127.0.0.1:7070"}
	cmd.Flags().StringVar(&r.endpoint, "endpoint", r.endpoint, "the node's HTTP address (env SOP_ENDPOINT)")
	r.addFlags(cmd, "give up on a call after this long; 0: never (env SOP_TIMEOUT)")
	r.s.bind("endpoint", "SOP_ENDPOINT")
	return r
}

// addFlags defines the client flags but --endpoint; timeoutUsage is the
// help of --timeout.
func (r *remote) addFlags(cmd *cobra.Command, timeoutUsage string) {
	r.domain, r.timeout = "default", 30*time.Second
	fs := cmd.Flags()
	fs.StringVar(&r.token, "token", "", "bearer token for a node with --auth-tokens (env SOP_TOKEN)")
	fs.StringVar(&r.tokenFile, "token-file", "", "read the token from this file instead (env SOP_TOKEN_FILE)")
	fs.StringVar(&r.domain, "domain", r.domain, "the domain (env SOP_DOMAIN)")
	fs.StringVar(&r.cacert, "cacert", "", "PEM file of the CA that signed the node's TLS certificate (env SOP_CACERT)")
	boolFlag(fs, &r.insecure, "insecure", "skip verifying the node's TLS certificate (testing only; env SOP_INSECURE)")
	fs.Var(&durationValue{p: &r.timeout, zero: true}, "timeout", timeoutUsage)
	r.s = newSettings(fs)
	for _, b := range [][2]string{
		{"token", "SOP_TOKEN"}, {"token-file", "SOP_TOKEN_FILE"},
		{"domain", "SOP_DOMAIN"}, {"cacert", "SOP_CACERT"}, {"insecure", "SOP_INSECURE"},
		{"timeout", "SOP_TIMEOUT"},
	} {
		r.s.bind(b[0], b[1])
	}
}

// client applies the environment to the flags and returns a client of
// the node.
func (r *remote) client() (*client.Client, error) {
	opts, err := r.options()
	if err != nil {
		return nil, err
	}
	c, err := client.New(r.endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.s.source("endpoint"), err)
	}
	return c, nil
}

// options applies the environment to the flags and returns the client
// options they give.
func (r *remote) options() (client.Options, error) {
	if err := r.s.apply(); err != nil {
		return client.Options{}, err
	}
	token := r.token
	if r.tokenFile != "" {
		if token != "" {
			return client.Options{}, fmt.Errorf("%s and %s: give the token one way", r.s.source("token"), r.s.source("token-file"))
		}
		b, err := os.ReadFile(r.tokenFile)
		if err != nil {
			return client.Options{}, fmt.Errorf("%s: %w", r.s.source("token-file"), err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return client.Options{}, fmt.Errorf("%s: the file is empty: put the token in it", r.s.source("token-file"))
		}
	}
	opts := client.Options{Token: token}
	if r.cacert != "" || r.insecure {
		tc, err := r.tlsConfig()
		if err != nil {
			return client.Options{}, err
		}
		opts.TLSConfig = tc
	}
	return opts, nil
}

func (r *remote) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: r.insecure}
	if r.cacert == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(r.cacert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.s.source("cacert"), err)
	}
	tc.RootCAs = x509.NewCertPool()
	if !tc.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in the file", r.s.source("cacert"))
	}
	return tc, nil
}

// call bounds one call by --timeout.
func (r *remote) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.timeout)
}

// explain adds what to do to errors whose cause the user can fix.
func (r *remote) explain(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: no answer within --timeout %s from %s", err, r.timeout, r.endpoint)
	case errors.Is(err, client.ErrUnauthorized) && r.token == "" && r.tokenFile == "":
		return fmt.Errorf("%w (give a token with --token, --token-file or SOP_TOKEN)", err)
	}
	var ce *client.Error
	if !errors.As(err, &ce) && strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w: is sopd serve running at %s? (set --endpoint or SOP_ENDPOINT)", err, r.endpoint)
	}
	return err
}
