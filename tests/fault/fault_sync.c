/*  =========================================================================
    fault_sync - an LD_PRELOAD shim that makes the disk fail on demand

    For tests only. While the file named by the environment variable
    ZPOST_FAULT_FILE exists, the fault its first line names is on; when it
    does not (or the variable is unset) every call is the C library's own.
    A test switches a fault on and off by creating and removing that file,
    without signalling the process under test.

    - empty (or "eio"): fdatasync, fsync and msync fail with EIO and do
      nothing (test_engine_fault.py, issue 10, defect 10: a commit whose
      sync fails must be answered with an error, and must not be found
      after a restart).
    - "enospc": a full disk (test_store_disk_full.py, issue 11, item 6).
      A write to a regular file that would make it longer fails with
      ENOSPC and writes nothing, as a file system with no free block does;
      a write inside the file's present length (blocks it already has)
      goes through. statvfs and fstatvfs report no free blocks.
    - "short": the same full disk, but a write that would make a file
      longer writes its first 4096 bytes and returns that short count, as
      a write that fills the disk does (a write of 4096 bytes or less fails
      with ENOSPC). LMDB reports a short write as EIO.

    Why the EIO fault fails the syncs and not pwrite: LMDB commits by writing the dirty pages
    (pwrite), syncing them (fdatasync), and only then writing the meta page
    that makes the transaction visible, through a descriptor opened with
    O_DSYNC. Failing the sync makes the commit fail before the meta page is
    written, so a failed commit leaves nothing a later reader can see, and
    the meta page's own write (whose O_DSYNC we do not touch) never races
    with the fault. Failing pwrite as well would be sound for the data
    pages but not for the meta page: a failed meta write after a good
    sync is a state LMDB itself treats as fatal. The full disk fails only
    writes that need new blocks, and the meta pages are the file's first
    two pages: it can fail the data pages only, as a real full disk does.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

typedef enum {
    S_FAULT_NONE = 0,
    S_FAULT_EIO,                //  the syncs fail with EIO
    S_FAULT_ENOSPC,             //  growing writes fail with ENOSPC
    S_FAULT_SHORT               //  growing writes are cut short
} s_fault_t;

//  The fault that is on: none while the fault file is missing
static s_fault_t
s_fault (void)
{
    const char *path = getenv ("ZPOST_FAULT_FILE");
    if (!path || !*path)
        return S_FAULT_NONE;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return S_FAULT_NONE;
    char word [16] = "";
    ssize_t size = read (fd, word, sizeof word - 1);
    close (fd);
    word [size > 0? size: 0] = 0;
    if (strncmp (word, "enospc", 6) == 0)
        return S_FAULT_ENOSPC;
    if (strncmp (word, "short", 5) == 0)
        return S_FAULT_SHORT;
    return S_FAULT_EIO;
}

//  True while the syncs must fail
static int
s_fault_on (void)
{
    return s_fault () == S_FAULT_EIO;
}

//  The disk is full: a write of size bytes at offset (-1: the file
//  position) to fd. Returns the bytes it may write, which is size when the
//  write needs no new block or the disk is not full, or -1 (errno ENOSPC)
//  when it may write none.
static ssize_t
s_room (int fd, off_t offset, size_t size)
{
    if (size == 0)
        return 0;
    s_fault_t fault = s_fault ();
    if (fault != S_FAULT_ENOSPC && fault != S_FAULT_SHORT)
        return (ssize_t) size;
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode))
        return (ssize_t) size;
    if (offset < 0) {
        offset = lseek (fd, 0, SEEK_CUR);
        if (offset < 0)
            return (ssize_t) size;
    }
    if ((uint64_t) offset + size <= (uint64_t) st.st_size)
        return (ssize_t) size;
    if (fault == S_FAULT_SHORT && size > 4096)
        return 4096;
    errno = ENOSPC;
    return -1;
}

//  The next definition of a symbol (the C library's)
static void *
s_next (const char *name)
{
    return dlsym (RTLD_NEXT, name);
}

int
fdatasync (int fd)
{
    if (s_fault_on ()) {
        errno = EIO;
        return -1;
    }
    int (*real) (int) = (int (*) (int)) s_next ("fdatasync");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (fd);
}

int
fsync (int fd)
{
    if (s_fault_on ()) {
        errno = EIO;
        return -1;
    }
    int (*real) (int) = (int (*) (int)) s_next ("fsync");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (fd);
}

int
msync (void *addr, size_t length, int flags)
{
    if (s_fault_on ()) {
        errno = EIO;
        return -1;
    }
    int (*real) (void *, size_t, int) =
        (int (*) (void *, size_t, int)) s_next ("msync");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (addr, length, flags);
}

ssize_t
pwrite (int fd, const void *buffer, size_t size, off_t offset)
{
    ssize_t room = s_room (fd, offset, size);
    if (room < 0)
        return -1;
    ssize_t (*real) (int, const void *, size_t, off_t) =
        (ssize_t (*) (int, const void *, size_t, off_t)) s_next ("pwrite");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (fd, buffer, (size_t) room, offset);
}

//  The same call under its large-file name (one function on 64-bit)
ssize_t pwrite64 (int fd, const void *buffer, size_t size, off_t offset);
ssize_t
pwrite64 (int fd, const void *buffer, size_t size, off_t offset)
{
    return pwrite (fd, buffer, size, offset);
}

ssize_t
write (int fd, const void *buffer, size_t size)
{
    ssize_t room = s_room (fd, -1, size);
    if (room < 0)
        return -1;
    ssize_t (*real) (int, const void *, size_t) =
        (ssize_t (*) (int, const void *, size_t)) s_next ("write");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (fd, buffer, (size_t) room);
}

//  The iovec cut to its first room bytes, in copy (at most max entries);
//  returns the count of entries
static int
s_cut (const struct iovec *iov, int count, size_t room, struct iovec *copy, int max)
{
    int index = 0;
    for (; index < count && index < max && room > 0; index++) {
        copy [index] = iov [index];
        if (copy [index].iov_len > room)
            copy [index].iov_len = room;
        room -= copy [index].iov_len;
    }
    return index;
}

static size_t
s_iov_size (const struct iovec *iov, int count)
{
    size_t size = 0;
    for (int index = 0; index < count; index++)
        size += iov [index].iov_len;
    return size;
}

ssize_t
writev (int fd, const struct iovec *iov, int count)
{
    size_t size = count > 0? s_iov_size (iov, count): 0;
    ssize_t room = s_room (fd, -1, size);
    if (room < 0)
        return -1;
    ssize_t (*real) (int, const struct iovec *, int) =
        (ssize_t (*) (int, const struct iovec *, int)) s_next ("writev");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if ((size_t) room == size)
        return real (fd, iov, count);
    struct iovec copy [64];
    return real (fd, copy, s_cut (iov, count, (size_t) room, copy, 64));
}

ssize_t
pwritev (int fd, const struct iovec *iov, int count, off_t offset)
{
    size_t size = count > 0? s_iov_size (iov, count): 0;
    ssize_t room = s_room (fd, offset, size);
    if (room < 0)
        return -1;
    ssize_t (*real) (int, const struct iovec *, int, off_t) =
        (ssize_t (*) (int, const struct iovec *, int, off_t)) s_next ("pwritev");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if ((size_t) room == size)
        return real (fd, iov, count, offset);
    struct iovec copy [64];
    return real (fd, copy, s_cut (iov, count, (size_t) room, copy, 64), offset);
}

//  A full disk has no free blocks, for anyone
static void
s_no_room (struct statvfs *fs)
{
    s_fault_t fault = s_fault ();
    if (fault == S_FAULT_ENOSPC || fault == S_FAULT_SHORT) {
        fs->f_bfree = 0;
        fs->f_bavail = 0;
    }
}

int
statvfs (const char *path, struct statvfs *fs)
{
    int (*real) (const char *, struct statvfs *) =
        (int (*) (const char *, struct statvfs *)) s_next ("statvfs");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int rc = real (path, fs);
    if (rc == 0)
        s_no_room (fs);
    return rc;
}

int
fstatvfs (int fd, struct statvfs *fs)
{
    int (*real) (int, struct statvfs *) =
        (int (*) (int, struct statvfs *)) s_next ("fstatvfs");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int rc = real (fd, fs);
    if (rc == 0)
        s_no_room (fs);
    return rc;
}
