//go:build integration

package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// smallDiskBytes is the size of the full-disk fault's filesystem: room for
// the node's Badger files as they start (memtable and value log are sparse
// files, backed only as written) and the first blocks, then a filler takes
// the rest.
const smallDiskBytes = 256 << 20

// SmallDisk is a tmpfs of a fixed size mounted for one node's --db-path.
type SmallDisk struct {
	Dir    string // the mount point
	filler string
}

// MountSmallDisk mounts a tmpfs of smallDiskBytes at dir. It returns an error
// wrapping os.ErrPermission where mounting is not permitted (no root, no
// CAP_SYS_ADMIN), so the caller can skip the case with a clear message.
func MountSmallDisk(dir string) (*SmallDisk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("small disk: %w", err)
	}
	opts := fmt.Sprintf("size=%d", smallDiskBytes)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("small disk: mount tmpfs at %s: %w", dir, os.ErrPermission)
		}
		return nil, fmt.Errorf("small disk: mount tmpfs at %s: %w", dir, err)
	}
	return &SmallDisk{Dir: dir, filler: filepath.Join(dir, "filler")}, nil
}

// fillLeaves is what Fill leaves free: less than the node's default
// --min-free-disk reserve (160 MiB), as a disk filling up by other writers
// would, so the node must notice and stop before Badger's memory-mapped
// files run out of room.
const fillLeaves = 96 << 20

// Fill writes a file until the filesystem has fillLeaves bytes free.
func (d *SmallDisk) Fill() error {
	f, err := os.OpenFile(d.filler, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("fill %s: %w", d.Dir, err)
	}
	defer func() { _ = f.Close() }() // the filler is never read: only the room its writes took matters
	chunk := make([]byte, 1<<20)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.Dir, &st); err != nil {
			return fmt.Errorf("fill %s: %w", d.Dir, err)
		}
		if st.Bavail*uint64(st.Bsize) <= fillLeaves {
			return nil
		}
		if _, err := f.Write(chunk); err != nil {
			return fmt.Errorf("fill %s: %w", d.Dir, err)
		}
	}
}

// Free removes the filler.
func (d *SmallDisk) Free() error {
	if err := os.Remove(d.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("free %s: %w", d.Dir, err)
	}
	return nil
}

// Unmount unmounts the filesystem (lazily if a process still holds it).
func (d *SmallDisk) Unmount() error {
	if err := syscall.Unmount(d.Dir, 0); err != nil {
		if err2 := syscall.Unmount(d.Dir, syscall.MNT_DETACH); err2 != nil {
			return fmt.Errorf("unmount %s: %w", d.Dir, err)
		}
	}
	return nil
}

// Usage is df's line for the filesystem, for the report.
func (d *SmallDisk) Usage() string {
	out, err := exec.Command("df", "-h", d.Dir).Output()
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
