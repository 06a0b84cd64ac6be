package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// Components are the names loggers carry in their "component" attribute,
// the names a LogSpec may give a level of their own.
func Components() []string {
	return []string{"api", "badger", "config", "p2p", "pow", "raft", "telemetry"}
}

// LogSpec is a log level specification in Hyperledger Fabric's grammar:
//
//	spec  = term *( ":" term )
//	term  = [ names "=" ] level
//	names = component *( "," component )
//	level = debug | info | warn | warning | error   (any case)
//
// The term without names is the default level (at most one; info when
// there is none); the others set the level of the named components, each
// named once. "info:raft,p2p=debug:api=warn" logs raft and p2p at debug,
// the API at warn, everything else at info. A plain level ("debug") is a
// spec too, which is how --log-level reads.
type LogSpec struct {
	Default    slog.Level
	Components map[string]slog.Level // nil when there are none
}

// ParseLogSpec reads s; errors say which term is wrong and why.
func ParseLogSpec(s string) (LogSpec, error) {
	spec := LogSpec{Default: slog.LevelInfo}
	if strings.TrimSpace(s) == "" {
		return spec, errors.New("empty log level spec (want e.g. info or info:raft=debug)")
	}
	known := Components()
	haveDefault := false
	for i, term := range strings.Split(s, ":") {
		term = strings.TrimSpace(term)
		names, levelText, named := strings.Cut(term, "=")
		if !named {
			names, levelText = "", term
		}
		lvl, err := parseLevel(levelText)
		if err != nil {
			return LogSpec{}, fmt.Errorf("term %d %q: %w", i+1, term, err)
		}
		if !named {
			if haveDefault {
				return LogSpec{}, fmt.Errorf("term %d %q: a second default level (name the components: raft=debug)", i+1, term)
			}
			spec.Default, haveDefault = lvl, true
			continue
		}
		for name := range strings.SplitSeq(names, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				return LogSpec{}, fmt.Errorf("term %d %q: empty component name", i+1, term)
			case !slices.Contains(known, name):
				return LogSpec{}, fmt.Errorf("term %d %q: unknown component %q (known: %s)", i+1, term, name, strings.Join(known, ", "))
			}
			if _, dup := spec.Components[name]; dup {
				return LogSpec{}, fmt.Errorf("term %d %q: component %q is named twice", i+1, term, name)
			}
			if spec.Components == nil {
				spec.Components = make(map[string]slog.Level)
			}
			spec.Components[name] = lvl
		}
	}
	return spec, nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("level %q: want debug, info, warn or error", s)
}

// String is the spec in canonical form: the default level, then one term
// per component in name order ("info:api=warn:raft=debug").
func (s LogSpec) String() string {
	var b strings.Builder
	b.WriteString(levelName(s.Default))
	for _, name := range slices.Sorted(maps.Keys(s.Components)) {
		fmt.Fprintf(&b, ":%s=%s", name, levelName(s.Components[name]))
	}
	return b.String()
}

// Equal reports whether s and o set the same levels.
func (s LogSpec) Equal(o LogSpec) bool {
	return s.Default == o.Default && maps.Equal(s.Components, o.Components)
}

func levelName(l slog.Level) string { return strings.ToLower(l.String()) }
