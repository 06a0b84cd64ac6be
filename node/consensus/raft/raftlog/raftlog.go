// Package raftlog is the raft engine's log storage on disk: etcd raft's
// entries, hard state and snapshot, kept in the node's Badger database
// through node/store's transaction API (keys under r/), beside the chain
// state raft applies them to.
package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	chainraft "github.com/chainotel/chainotel/node/consensus/raft"
	"github.com/chainotel/chainotel/node/store"
)

var (
	keyHardState = []byte("r/hs")
	keySnapshot  = []byte("r/snap")
	prefixEntry  = []byte("r/e/") // + index(8) -> raftpb.Entry
)

// Log is raft's storage, persisted in Badger. Raft reads it through the
// raft.Storage methods, which a raft.MemoryStorage serves from memory (raft
// reads the log far more often than it writes it); every write goes to Badger
// first and to memory second, and on open the memory copy is rebuilt from
// Badger. Log compaction keeps both bounded.
//
// The raft.Storage methods are safe for concurrent use (raft calls them from
// its own goroutine); Save, CreateSnapshot and Compact are called from the
// consensus loop only.
type Log struct {
	*raft.MemoryStorage
	s *store.Store

	mu          sync.Mutex // guards first and last
	first, last uint64     // the persisted entries are [first, last]; none when last < first
}

var _ chainraft.LogStorage = (*Log)(nil)

// Open loads the raft log kept in s into memory.
func Open(s *store.Store) (*Log, error) {
	r := &Log{MemoryStorage: raft.NewMemoryStorage(), s: s, first: 1}
	err := s.View(func(txn *store.Txn) error {
		if v, err := txn.Get(keySnapshot); err == nil {
			var snap raftpb.Snapshot
			if err := snap.Unmarshal(v); err != nil {
				return fmt.Errorf("decode raft snapshot: %w", err)
			}
			if err := r.MemoryStorage.ApplySnapshot(snap); err != nil {
				return fmt.Errorf("load raft snapshot: %w", err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read raft snapshot: %w", err)
		}
		if v, err := txn.Get(keyHardState); err == nil {
			var hs raftpb.HardState
			if err := hs.Unmarshal(v); err != nil {
				return fmt.Errorf("decode raft hard state: %w", err)
			}
			if err := r.MemoryStorage.SetHardState(hs); err != nil {
				return fmt.Errorf("load raft hard state: %w", err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read raft hard state: %w", err)
		}
		return r.loadEntries(txn)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Log) loadEntries(txn *store.Txn) error {
	var ents []raftpb.Entry
	err := txn.Iterate(prefixEntry, func(key, value []byte) error {
		var e raftpb.Entry
		// Unmarshal keeps no reference to value: Data is copied.
		if err := e.Unmarshal(value); err != nil {
			return fmt.Errorf("decode raft entry %x: %w", key, err)
		}
		if len(ents) > 0 && e.Index != ents[len(ents)-1].Index+1 {
			return fmt.Errorf("raft log has a gap between %d and %d", ents[len(ents)-1].Index, e.Index)
		}
		ents = append(ents, e)
		return nil
	})
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		snap, err := r.MemoryStorage.Snapshot()
		if err != nil {
			return err
		}
		r.first, r.last = snap.Metadata.Index+1, snap.Metadata.Index
		return nil
	}
	r.first, r.last = ents[0].Index, ents[len(ents)-1].Index
	// MemoryStorage drops what precedes its snapshot; the rest must follow it.
	if err := r.MemoryStorage.Append(ents); err != nil {
		return fmt.Errorf("load raft entries: %w", err)
	}
	return nil
}

// IsEmpty reports whether raft has never stored anything here: no snapshot,
// no hard state, no entries, so the node must bootstrap.
func (r *Log) IsEmpty() (bool, error) {
	hs, _, err := r.InitialState()
	if err != nil {
		return false, err
	}
	last, err := r.LastIndex()
	if err != nil {
		return false, err
	}
	return raft.IsEmptyHardState(hs) && last == 0, nil
}

// Save persists what a raft Ready asks for, in the order a crash must not
// break: the snapshot first (the entries that follow it build on it), then the
// entries, then the hard state (whose commit index may point at them), in one
// Badger write batch followed by one fsync when mustSync (raft's
// Ready.MustSync: new entries, term or vote; a commit index alone can be
// relearned, so it need not cost an fsync). Only then does it update the
// memory copy raft reads, so raft never sees state that is not durable.
func (r *Log) Save(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot, mustSync bool) error {
	if raft.IsEmptyHardState(hs) && len(ents) == 0 && raft.IsEmptySnap(snap) {
		return nil
	}
	r.mu.Lock()
	first, last := r.first, r.last
	r.mu.Unlock()
	err := r.s.WriteBatch(func(wb *store.Batch) error {
		var err error
		first, last, err = writeReady(wb, first, last, hs, ents, snap)
		return err
	})
	if err != nil {
		return fmt.Errorf("save raft state: %w", err)
	}
	if mustSync || !raft.IsEmptySnap(snap) {
		if err := r.s.Sync(); err != nil {
			return fmt.Errorf("sync raft state: %w", err)
		}
	}
	r.mu.Lock()
	r.first, r.last = first, last
	r.mu.Unlock()
	return r.applyToMemory(hs, ents, snap)
}

// writeReady writes a Ready's snapshot, entries and hard state into wb, in
// that order, and returns the persisted range they leave.
func writeReady(wb *store.Batch, first, last uint64, hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot) (uint64, uint64, error) {
	if !raft.IsEmptySnap(snap) {
		raw, err := snap.Marshal()
		if err != nil {
			return 0, 0, fmt.Errorf("encode raft snapshot: %w", err)
		}
		if err := wb.Set(keySnapshot, raw); err != nil {
			return 0, 0, fmt.Errorf("write raft snapshot: %w", err)
		}
		// A snapshot replaces the whole log: raft resends what follows it.
		if err := deleteEntries(wb, first, last); err != nil {
			return 0, 0, err
		}
		first, last = snap.Metadata.Index+1, snap.Metadata.Index
	}
	if len(ents) > 0 {
		for i := range ents {
			raw, err := ents[i].Marshal()
			if err != nil {
				return 0, 0, fmt.Errorf("encode raft entry %d: %w", ents[i].Index, err)
			}
			if err := wb.Set(entryKey(ents[i].Index), raw); err != nil {
				return 0, 0, fmt.Errorf("write raft entry %d: %w", ents[i].Index, err)
			}
		}
		newLast := ents[len(ents)-1].Index
		// Entries past the new last conflict with the leader's log: drop them.
		if err := deleteEntries(wb, newLast+1, last); err != nil {
			return 0, 0, err
		}
		if last < first { // the log was empty
			first = ents[0].Index
		}
		last = newLast
	}
	if !raft.IsEmptyHardState(hs) {
		raw, err := hs.Marshal()
		if err != nil {
			return 0, 0, fmt.Errorf("encode raft hard state: %w", err)
		}
		if err := wb.Set(keyHardState, raw); err != nil {
			return 0, 0, fmt.Errorf("write raft hard state: %w", err)
		}
	}
	return first, last, nil
}

func (r *Log) applyToMemory(hs raftpb.HardState, ents []raftpb.Entry, snap raftpb.Snapshot) error {
	if !raft.IsEmptySnap(snap) {
		if err := r.MemoryStorage.ApplySnapshot(snap); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return fmt.Errorf("apply raft snapshot %d: %w", snap.Metadata.Index, err)
		}
	}
	if len(ents) > 0 {
		if err := r.MemoryStorage.Append(ents); err != nil {
			return fmt.Errorf("append raft entries: %w", err)
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if err := r.MemoryStorage.SetHardState(hs); err != nil {
			return fmt.Errorf("set raft hard state: %w", err)
		}
	}
	return nil
}

// Append persists entries (see Save).
func (r *Log) Append(ents []raftpb.Entry) error {
	return r.Save(raftpb.HardState{}, ents, raftpb.Snapshot{}, true)
}

// SetHardState persists the hard state (see Save).
func (r *Log) SetHardState(hs raftpb.HardState) error {
	return r.Save(hs, nil, raftpb.Snapshot{}, true)
}

// ApplySnapshot persists a snapshot received from the leader and replaces the
// log with it (see Save).
func (r *Log) ApplySnapshot(snap raftpb.Snapshot) error {
	return r.Save(raftpb.HardState{}, nil, snap, true)
}

// CreateSnapshot records a snapshot of the state at applied index i (the
// caller has applied up to i) and persists it; data says what it holds.
func (r *Log) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error) {
	snap, err := r.MemoryStorage.CreateSnapshot(i, cs, data)
	if err != nil {
		return snap, fmt.Errorf("create raft snapshot at %d: %w", i, err)
	}
	raw, err := snap.Marshal()
	if err != nil {
		return snap, fmt.Errorf("encode raft snapshot: %w", err)
	}
	if err := r.s.Update(func(txn *store.Txn) error { return txn.Set(keySnapshot, raw) }); err != nil {
		return snap, fmt.Errorf("write raft snapshot at %d: %w", i, err)
	}
	return snap, nil
}

// Compact discards the entries before index i, which a snapshot covers.
// Compacting to an index the log was already compacted past is a no-op: a
// snapshot taken soon after another one may ask for it.
func (r *Log) Compact(i uint64) error {
	if err := r.MemoryStorage.Compact(i); err != nil {
		if errors.Is(err, raft.ErrCompacted) {
			return nil
		}
		return fmt.Errorf("compact raft log to %d: %w", i, err)
	}
	r.mu.Lock()
	first := r.first
	r.mu.Unlock()
	if i <= first {
		return nil
	}
	if err := r.s.WriteBatch(func(wb *store.Batch) error { return deleteEntries(wb, first, i-1) }); err != nil {
		return fmt.Errorf("compact raft log to %d: %w", i, err)
	}
	r.mu.Lock()
	r.first = i
	r.mu.Unlock()
	return nil
}

// PersistedRange is the first and last index of the entries kept in Badger
// (last < first when there are none); tests use it to see compaction work.
func (r *Log) PersistedRange() (first, last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first, r.last
}

func deleteEntries(wb *store.Batch, from, to uint64) error {
	for i := from; i <= to && from != 0; i++ {
		if err := wb.Delete(entryKey(i)); err != nil {
			return fmt.Errorf("delete raft entry %d: %w", i, err)
		}
	}
	return nil
}

func entryKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(prefixEntry)+8), prefixEntry...), i)
}
