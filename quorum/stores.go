package quorum

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Stores are where a member keeps its Raft state: its log, its term and
// vote, and its snapshots (which hold only the membership: the log
// carries no data of its own).
type Stores struct {
	Log       raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	closer    io.Closer
}

// OpenStores opens (creating it if need be) the state of a member under
// dir: raft.db (raft-boltdb, the log and the term and vote) and
// snapshots/. The snapshot store's own log goes to raftLog, as Raft's
// does (Config.RaftLog: warnings and errors; nil: discard). Close it once
// the node has stopped.
func OpenStores(dir string, raftLog io.Writer) (*Stores, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	db, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open raft.db: %w", err)
	}
	// A nil logger would be hclog's default, on standard error.
	if raftLog == nil {
		raftLog = io.Discard
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: raftLog, Level: hclog.Warn})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, log)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open snapshots: %w", err), db.Close())
	}
	return &Stores{Log: db, Stable: db, Snapshots: snaps, closer: db}, nil
}

// InmemStores are stores that live in memory: a test's member that
// crashes and restarts keeps them, as a daemon keeps its state_dir.
func InmemStores() *Stores {
	s := raft.NewInmemStore()
	return &Stores{Log: s, Stable: s, Snapshots: raft.NewInmemSnapshotStore()}
}

// Close closes the stores' files, if they have any.
func (s *Stores) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// fsm is the Raft state machine. Nothing is applied but Raft's own
// entries (the membership, no-ops, barriers): leadership is all the
// cluster agrees on.
type fsm struct{}

func (fsm) Apply(*raft.Log) any                 { return nil }
func (fsm) Snapshot() (raft.FSMSnapshot, error) { return emptySnapshot{}, nil }
func (fsm) Restore(rc io.ReadCloser) error      { return rc.Close() }

type emptySnapshot struct{}

func (emptySnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (emptySnapshot) Release()                             {}
