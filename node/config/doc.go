// Package config holds the node settings that change while it runs and the
// machinery that changes them: Settings (the reloadable values and their
// Validate), LogSpec (the per-component log level grammar), Reloader (which
// applies a re-read configuration key by key and refuses the keys that need
// a restart) and the health-port endpoints GET /config and PUT /loglevel.
//
// Keys are flag names (--max-client-requests is "max-client-requests"):
// the command line, the BLOCKCHAIN_* environment and the --config file all
// set flags, so a key means the same thing wherever it came from.
package config
