package main

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3"; empty: taken from the build info.
var version string

// binaryVersion is this binary's version: the -ldflags version, else the
// module version and VCS revision the build recorded, else "(devel)".
func binaryVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}

func newVersionCmd(st *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of sopd and of the node",
		Long: `Print {"version":..,"go":..} for this binary and, when the node at --endpoint
answers, "server" with its version and node id (else "server_error").`,
		Example: `  sopd version
  sopd version --endpoint http://10.0.0.5:7070`,
		Args: argsFor(),
	}
	r := addRemote(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		out := map[string]any{"version": binaryVersion(), "go": runtime.Version()}
		c, err := r.client()
		if err != nil {
			return err
		}
		ctx, cancel := r.call(cmd.Context())
		defer cancel()
		if s, err := c.Status(ctx); err != nil {
			out["server_error"] = r.explain(err).Error()
		} else {
			out["server"] = map[string]string{"endpoint": c.Endpoint(), "version": s.Version, "node": s.Node}
		}
		return printJSON(st.out, out)
	}
	return cmd
}
