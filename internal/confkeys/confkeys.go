// Package confkeys refuses configuration keys that a collector component's
// Config does not know.
//
// confighttp.ServerConfig (since collector v0.161.0) decodes with unused keys
// ignored, because components squash it into their own Config beside their
// own keys. A Config that squashes it therefore loses the check that would
// name a misspelt key; Check restores it from the Config's mapstructure tags.
package confkeys

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// Check refuses every top-level key of conf that a struct of type t does not
// decode (its fields' mapstructure names, squashed fields' in their place),
// naming the unknown keys and the known ones.
func Check(conf *confmap.Conf, t reflect.Type) error {
	known := Keys(t)
	var unknown []string
	for _, k := range conf.AllKeys() {
		top, _, _ := strings.Cut(k, confmap.KeyDelimiter)
		if !slices.Contains(known, top) {
			unknown = append(unknown, top)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	slices.Sort(known)
	return fmt.Errorf("unknown keys %s (known: %s)",
		strings.Join(slices.Compact(unknown), ", "), strings.Join(known, ", "))
}

// Decode is a Config.Unmarshal's body: it refuses keys plain does not know
// (Check, its error wrapped in invalid), then decodes conf into plain. plain
// points at the Config through a method-less twin type (`type plain Config`),
// so that decoding does not call Config.Unmarshal again.
func Decode(conf *confmap.Conf, plain any, invalid error) error {
	if err := Check(conf, reflect.TypeOf(plain)); err != nil {
		return fmt.Errorf("%w: %w", invalid, err)
	}
	return conf.Unmarshal(plain)
}

// Keys lists the keys a struct of type t decodes: its exported fields'
// mapstructure names (the lower-cased field name without one), and those of
// squashed fields in their place.
func Keys(t reflect.Type) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		switch {
		case name == "-":
		case slices.Contains(strings.Split(opts, ","), "squash"):
			keys = append(keys, Keys(f.Type)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	return keys
}
