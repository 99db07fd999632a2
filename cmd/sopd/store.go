package main

import (
	"fmt"
	"strings"

	"github.com/sopd/sop/client"
	"github.com/spf13/cobra"
)

func newStoreCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Create, list and drop stores",
		Long: `Manage the stores of the domain. A plain store keys items by strings; a store
with an index keys each item, a JSON document, by the values of the fields its
index names (see sopd put --doc).`,
		Example: `  sopd store create accounts
  sopd store create people --index last,age:desc
  sopd store list
  sopd store drop accounts`,
	}
	cmd.AddCommand(newStoreCreateCmd(st), newStoreListCmd(st), newStoreDropCmd(st))
	return cmd
}

func newStoreCreateCmd(st *streams) *cobra.Command {
	var index string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a store (idempotent for the same definition)",
		Long: `Create store NAME and print {"name":..,"created":bool}; created is false when
it existed with the same definition. --index makes it an index store: a
comma-separated list of document fields (dotted paths), each optionally
followed by :asc or :desc.`,
		Example: `  sopd store create accounts
  sopd store create people --index last,first,age:desc`,
		Args: argsFor("NAME"),
	}
	r := addRemote(cmd)
	cmd.Flags().StringVar(&index, "index", "", "index fields: field[:asc|desc],...")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fields, err := parseIndex(index)
		if err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		created, err := c.CreateStore(ctx, r.domain, args[0], fields)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, map[string]any{"name": args[0], "created": created})
	}
	return cmd
}

// parseIndex parses --index: field[:asc|desc],...
func parseIndex(s string) ([]client.IndexField, error) {
	if s == "" {
		return nil, nil
	}
	var out []client.IndexField
	for _, part := range strings.Split(s, ",") {
		name, order, _ := strings.Cut(strings.TrimSpace(part), ":")
		if name == "" || order != "" && order != "asc" && order != "desc" {
			return nil, fmt.Errorf("--index %q: give field[:asc|desc],... e.g. last,age:desc", s)
		}
		out = append(out, client.IndexField{Field: name, Order: order})
	}
	return out, nil
}

func newStoreListCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the domain's stores",
		Long:    `Print the domain's stores, one JSON object per line: {"name":..,"index":..,"count":N}.`,
		Example: `  sopd store list --domain orders`,
		Args:    argsFor(),
	}
	r := addRemote(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		stores, err := c.Stores(ctx, r.domain)
		if err != nil {
			return r.explain(err)
		}
		for _, s := range stores {
			if err := printJSON(st.out, s); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

func newStoreDropCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "drop NAME",
		Short:   "Drop a store and all its items",
		Long:    `Drop store NAME with all its items and print {"seq":N}.`,
		Example: `  sopd store drop scratch`,
		Args:    argsFor("NAME"),
	}
	r := addRemote(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		seq, err := c.DropStore(ctx, r.domain, args[0])
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, seqAnswer{seq})
	}
	return cmd
}
