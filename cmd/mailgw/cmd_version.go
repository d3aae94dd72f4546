package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=V -X main.commit=C".
// The Debian package sets version from debian/changelog, the Dockerfile
// from debian/changelog or "git describe"; commit is needed only where
// the build has no .git (a source package), since the go command records
// the VCS revision itself otherwise.
var (
	version = ""
	commit  = ""
)

// versionString is what "mailgw --version" and "mailgw version" print:
// the version, the VCS commit (with "+modified" for a dirty tree) and
// the Go version, one per line.
func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return formatVersion(version, commit, info)
}

// formatVersion builds versionString's text from the injected values
// and the binary's build information (nil when unavailable).
func formatVersion(version, commit string, info *debug.BuildInfo) string {
	goVersion := "unknown"
	var rev, modified string
	if info != nil {
		goVersion = info.GoVersion
		if version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version = info.Main.Version // go install module@version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+modified"
				}
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	switch {
	case commit != "":
	case rev != "":
		commit = rev + modified
	default:
		commit = "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mailgw %s\ncommit %s\ngo %s\n", version, commit, goVersion)
	return b.String()
}

// shortVersion is the version alone, for logs.
func shortVersion() string {
	v, _, _ := strings.Cut(strings.TrimPrefix(versionString(), "mailgw "), "\n")
	return v
}

func newVersionCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, the VCS commit and the Go version",
		Long: `Print mailgw's version (from debian/changelog or a git tag, set when the
binary was built), the VCS commit it was built from ("+modified" when the
tree had uncommitted changes) and the Go version; the same as
'mailgw --version'.

Exit status: 0.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			fmt.Fprint(c.OutOrStdout(), versionString())
			return nil
		},
	}
}
