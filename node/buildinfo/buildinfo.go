// Package buildinfo says which build of the node is running: the release
// (service.version, Sentry's release, the chainotel_build_info metric), the
// VCS revision it was built from and the Go toolchain that built it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// DefaultVersion is the release of a build that knows no better: built
// outside a git checkout, without the Makefile's -ldflags and without a
// tagged module version. It moves with builder-config.yaml's dist.version
// (the collector's release); a test holds the two equal.
const DefaultVersion = "0.3.0"

// linkedVersion is set at link time by the Makefile:
//
//	go build -ldflags "-X github.com/chainotel/chainotel/node/buildinfo.linkedVersion=$(git describe --tags --always --dirty)"
//
// It is the only way to give a binary a release other than its module's, so
// it is a variable; nothing assigns it at run time. linkedRevision (git
// rev-parse HEAD) stands in for the revision when the toolchain stamps none
// (GOFLAGS=-buildvcs=false, or a checkout go cannot read).
var linkedVersion, linkedRevision string

// Info describes one build.
type Info struct {
	// Version is the release: the -ldflags version, else the main module's
	// version when it is a real one, else DefaultVersion.
	Version string
	// Revision is the VCS revision (vcs.revision), empty when unknown.
	Revision string
	// Modified says the checkout had uncommitted changes (vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built the binary, e.g. "go1.26.8".
	GoVersion string
}

// Read describes the running binary.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	info := FromBuildInfo(bi, linkedVersion)
	if info.Revision == "" && linkedRevision != "" {
		info.Revision = strings.TrimSpace(linkedRevision)
		info.Modified = strings.HasSuffix(info.Version, "-dirty")
	}
	return info
}

// FromBuildInfo describes the build of bi (nil: none embedded) whose
// -ldflags version is linked (empty: none).
func FromBuildInfo(bi *debug.BuildInfo, linked string) Info {
	info := Info{Version: strings.TrimSpace(linked)}
	if bi == nil {
		if info.Version == "" {
			info.Version = DefaultVersion
		}
		return info
	}
	info.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Version == "" && releaseVersion(bi.Main.Version) {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = DefaultVersion
	}
	return info
}

// releaseVersion says whether a main module version names a release:
// "(devel)" (go build in a checkout without VCS stamping) does not, nor does
// a pseudo-version from a repository without tags (v0.0.0-...), which says
// less than DefaultVersion and the revision together.
func releaseVersion(v string) bool {
	return v != "" && v != "(devel)" && !strings.HasPrefix(v, "v0.0.0-")
}

// RevisionLabel is the revision as the build_info metric shows it: the
// revision, "-dirty" appended when the checkout was modified (as git describe
// does); "unknown" when the build carries none.
func (i Info) RevisionLabel() string {
	r := i.Revision
	if r == "" {
		r = "unknown"
	}
	if i.Modified {
		r += "-dirty"
	}
	return r
}

// String is what `blockchain version` prints.
func (i Info) String() string {
	goVersion := i.GoVersion
	if goVersion == "" {
		goVersion = "unknown"
	}
	return fmt.Sprintf("blockchain %s (revision %s, %s)", i.Version, i.RevisionLabel(), goVersion)
}
