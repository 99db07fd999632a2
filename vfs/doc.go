// Package vfs is the file-system seam under the B-tree page file and snapshot I/O.
//
// Code that must survive crashes and I/O errors takes an [FS] instead of calling the os
// package, so tests can run it on [MemFS], which simulates a crash that drops
// unsynced writes, and wrap any FS with [WithInjector] to fail a chosen operation
// with EIO or ENOSPC. Production code uses [Default], the operating system. The design
// follows pebble's vfs, vfs/errorfs and vfs.NewCrashableMem, much reduced.
//
// # Durability contract
//
// Every implementation promises only this, and callers must rely on nothing more:
//
//   - File.Sync makes the file's contents and size durable, not its name.
//   - FS.SyncDir(dir) makes the entries of dir durable: files and directories
//     created in dir, renamed into or out of dir, or removed from dir. A rename
//     between two directories needs SyncDir of both.
//   - A directory made by MkdirAll is an entry of its parent like any other, so
//     it survives a crash only once its parent has been synced.
//
// So the usual way to publish a file atomically is: write a temporary file, Sync it,
// Close it, Rename it over the final name, SyncDir the directory.
//
// # MemFS crash model
//
// MemFS keeps two states of everything: the live state that reads see, and the
// durable state that a crash leaves behind.
//
//   - Each file (an inode, shared by every handle and name) has live contents and
//     durable contents. Write, WriteAt, Truncate, and the truncation done by Create
//     on an existing file change the live contents only. Sync on any handle of the
//     file copies the live contents, size included, to the durable contents.
//   - Each directory has live entries and durable entries (name to inode).
//     Create of a new name, OpenReadWrite of a missing name, Rename, Remove and
//     MkdirAll change the live entries of the directories they touch; SyncDir of
//     a directory copies its live entries to its durable entries. The root
//     directory always exists.
//   - Contents and entries are independent: a file that was synced but whose
//     entry was never made durable vanishes in a crash; a file whose entry is
//     durable but which was never synced survives with its last synced contents,
//     empty if it was never synced.
//
// [MemFS.Crash] returns a new MemFS that holds exactly the durable state: every
// durable entry reachable from the root, each file with its durable contents. Open
// handles do not carry over. The receiver is left unchanged and stays usable; the two
// share no memory. An inode reachable under two durable names (possible after a rename
// between directories where only one side was synced) stays one inode after the crash.
//
// [MemFS.CrashRandom] models a crash in which some unsynced changes reached the disk
// before power was lost. Starting from the durable state:
//
//   - For each file, every write (Write, WriteAt) and truncation (Truncate, Create on
//     an existing file) issued since the file's last Sync is independently kept or
//     dropped with probability 1/2; the kept ones are applied in issue order. A
//     write is kept or dropped whole: writes are never torn.
//   - For each directory, a prefix of the entry changes made since its last SyncDir,
//     of length uniform in [0, n], is applied in order, as a journaling file system
//     commits metadata in order. A rename within one directory is a single change,
//     so it is atomic: the file ends up under exactly one of the two names. A rename
//     between directories is one change in each, which may land independently. So a
//     file created but never made durable by SyncDir may vanish or survive.
//
// The result depends only on the MemFS state and the rng sequence, so a crash is
// reproduced by rerunning with the same seed.
//
// Not modelled: torn writes within one call, sector or page granularity, file modes
// after creation, modification times (MemFS reports the zero time), hard links,
// symbolic links, disk capacity (use an injector for ENOSPC).
//
// # Errors
//
// Implementations return the errors the os package would: failures carry an
// *os.PathError (an *os.LinkError for MemFS.Rename) around a syscall.Errno, so callers
// test them with errors.Is: fs.ErrNotExist for a missing file or directory,
// os.ErrClosed for any method of a closed File. Errors made by an [Injector] are
// returned inside an *os.PathError whose Op is the [Op]'s name, so errors.Is(err,
// syscall.EIO) holds when the injector returned syscall.EIO.
package vfs
