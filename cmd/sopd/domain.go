package main

import (
	"github.com/spf13/cobra"
)

func newDomainCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain",
		Short: "Create and list domains",
		Long: `Manage the node's domains. A domain is a unit of ordering with its own journal
and stores; "default" exists on every node.`,
		Example: `  sopd domain create orders
  sopd domain list`,
	}
	cmd.AddCommand(newDomainCreateCmd(st), newDomainListCmd(st))
	return cmd
}

func newDomainCreateCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a domain (idempotent)",
		Long:    `Create domain NAME (1 to 64 ASCII letters, digits, '-' or '_') and print {"name":..,"created":bool}.`,
		Example: `  sopd domain create orders`,
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
		created, err := c.CreateDomain(ctx, args[0])
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, map[string]any{"name": args[0], "created": created})
	}
	return cmd
}

func newDomainListCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the node's domains",
		Long:    `Print the node's domains: {"domains":["default",...]}.`,
		Example: `  sopd domain list`,
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
		names, err := c.Domains(ctx)
		if err != nil {
			return r.explain(err)
		}
		return printJSON(st.out, map[string]any{"domains": names})
	}
	return cmd
}
