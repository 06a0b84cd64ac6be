package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// keyEngine names the consensus engine whose chain the data folder holds
// ("raft" or "pow"). One genesis serves both engines, and each writes
// blocks of its own kind (raft log and applied index, or PoW headers and
// undo records), so a folder is bound to the engine that first ran on it.
var keyEngine = []byte("m/engine")

// Key prefixes by which a folder written before keyEngine existed shows its
// engine.
var (
	legacyRaftPrefix = []byte("r/")
	legacyPoWPrefix  = []byte("p/")
)

// ClaimEngine binds the data folder to engine, or checks that it is bound
// to it already: a folder that holds another engine's chain is refused with
// ErrEngineMismatch. A folder from before the binding was recorded is
// judged by the keys its engine wrote.
func (s *Store) ClaimEngine(engine string) error {
	if engine == "" {
		return errors.New("claim engine: empty engine name")
	}
	return s.db.Update(func(txn *badger.Txn) error {
		have, err := get(txn, keyEngine)
		switch {
		case errors.Is(err, ErrNotFound):
			if have, err = legacyEngine(txn); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("read the data folder's engine: %w", err)
		}
		if len(have) > 0 && string(have) != engine {
			return fmt.Errorf("%w: it holds a %s chain, and this node starts %s; start it with --consensus=%s, or give it another data folder (--db-path)",
				ErrEngineMismatch, have, engine, have)
		}
		if err := txn.Set(keyEngine, []byte(engine)); err != nil {
			return fmt.Errorf("record the data folder's engine: %w", err)
		}
		return nil
	})
}

// Engine is the consensus engine the data folder is bound to ("" before
// ClaimEngine).
func (s *Store) Engine() (string, error) {
	var out string
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := get(txn, keyEngine)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		out = string(v)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the data folder's engine: %w", err)
	}
	return out, nil
}

// legacyEngine names the engine whose keys the folder holds, "" for none.
func legacyEngine(txn *badger.Txn) ([]byte, error) {
	for _, c := range []struct {
		prefix []byte
		engine string
	}{{legacyRaftPrefix, "raft"}, {legacyPoWPrefix, "pow"}} {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: c.prefix})
		it.Rewind()
		found := it.Valid()
		it.Close()
		if found {
			return []byte(c.engine), nil
		}
	}
	return nil, nil
}
