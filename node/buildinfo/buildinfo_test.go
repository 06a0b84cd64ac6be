package buildinfo

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/chainotel/chainotel", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   Info
	}{
		{"no build info", nil, "", Info{Version: DefaultVersion}},
		{"no build info, linked", nil, "v0.4.0", Info{Version: "v0.4.0"}},
		{"devel module, no vcs", vcs("(devel)"), "", Info{Version: DefaultVersion, GoVersion: "go1.26.8"}},
		{"tagged module version", vcs("v0.3.1"), "", Info{Version: "v0.3.1", GoVersion: "go1.26.8"}},
		{"untagged pseudo-version", vcs("v0.0.0-20260101000000-abcdef123456+dirty",
			"vcs.revision", "abcdef1234567890", "vcs.modified", "true"), "",
			Info{Version: DefaultVersion, Revision: "abcdef1234567890", Modified: true, GoVersion: "go1.26.8"}},
		{"linked wins over the module", vcs("v0.3.1", "vcs.revision", "abc", "vcs.modified", "false"), " v0.3.1-2-gabc-dirty\n",
			Info{Version: "v0.3.1-2-gabc-dirty", Revision: "abc", GoVersion: "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(tc.bi, tc.linked); got != tc.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInfoString(t *testing.T) {
	for _, tc := range []struct {
		info      Info
		revision  string
		formatted string
	}{
		{Info{Version: "0.3.0"}, "unknown", "blockchain 0.3.0 (revision unknown, unknown)"},
		{Info{Version: "v0.4.0", Revision: "abc", GoVersion: "go1.26.8"}, "abc", "blockchain v0.4.0 (revision abc, go1.26.8)"},
		{Info{Version: "v0.4.0", Revision: "abc", Modified: true, GoVersion: "go1.26.8"}, "abc-dirty", "blockchain v0.4.0 (revision abc-dirty, go1.26.8)"},
	} {
		if got := tc.info.RevisionLabel(); got != tc.revision {
			t.Errorf("%+v.RevisionLabel() = %q, want %q", tc.info, got, tc.revision)
		}
		if got := tc.info.String(); got != tc.formatted {
			t.Errorf("%+v.String() = %q, want %q", tc.info, got, tc.formatted)
		}
	}
}

// The test binary carries build information too: Read reports its toolchain.
func TestReadRunningBinary(t *testing.T) {
	got := Read()
	if got.GoVersion != runtime.Version() {
		t.Errorf("Read().GoVersion = %q, want %q", got.GoVersion, runtime.Version())
	}
	if got.Version == "" {
		t.Error("Read().Version is empty")
	}
}

// DefaultVersion and the collector distribution's version are one release:
// bump both together (README "Releases").
func TestDefaultVersionMatchesCollectorDist(t *testing.T) {
	path := filepath.Join("..", "..", "builder-config.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Dist struct {
			Version string `yaml:"version"`
		} `yaml:"dist"`
	}
	if err := yaml.Unmarshal(raw, &manifest); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if manifest.Dist.Version != DefaultVersion {
		t.Errorf("%s dist.version = %q, buildinfo.DefaultVersion = %q: bump them together", path, manifest.Dist.Version, DefaultVersion)
	}
}

// The Makefile links the version and the revision; the revision stands in
// for a toolchain stamp this test binary does not have only when none is
// there, and the version's "-dirty" says the checkout was modified.
func TestReadLinked(t *testing.T) {
	bi, _ := debug.ReadBuildInfo()
	stamped := FromBuildInfo(bi, "").Revision
	defer func(v, r string) { linkedVersion, linkedRevision = v, r }(linkedVersion, linkedRevision)
	linkedVersion, linkedRevision = "v0.4.0-1-gabc1234-dirty", "abc1234ffff"
	got := Read()
	if got.Version != "v0.4.0-1-gabc1234-dirty" {
		t.Errorf("Version = %q, want the linked one", got.Version)
	}
	if stamped == "" && (got.Revision != "abc1234ffff" || !got.Modified) {
		t.Errorf("Revision, Modified = %q, %v; want the linked revision, modified", got.Revision, got.Modified)
	}
	if stamped != "" && got.Revision != stamped {
		t.Errorf("Revision = %q, want the toolchain's %q", got.Revision, stamped)
	}
}
