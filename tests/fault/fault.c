/*  =========================================================================
    fault - an LD_PRELOAD shim that makes the disk fail on demand

    For tests only. While the file named by the environment variable
    ZPOST_FAULT_FILE exists, the fault its first line names is on; when it
    does not (or the variable is unset) every call is the C library's own.
    A test switches a fault on and off by creating and removing that file
    (or renaming a new one over it), without signalling the process under
    test. The file is read again at every call it concerns.

    - empty (or "eio"): fdatasync, fsync and msync fail with EIO and do
      nothing (test_engine_fault.py, issue 10, defect 10: a commit whose
      sync fails must be answered with an error, and must not be found
      after a restart).
    - "enospc": a full disk as LMDB meets it (test_store_disk_full.py,
      issue 11, item 6). A write to a regular file that would make it
      longer fails with ENOSPC and writes nothing, as a file system with
      no free block does; a write inside the file's present length
      (blocks it already has) goes through.
    - "short": the same full disk, but a write that would make a file
      longer writes its first 4096 bytes and returns that short count, as
      a write that fills the disk does (a write of 4096 bytes or less fails
      with ENOSPC). LMDB reports a short write as EIO.
    - "nospace": a full disk as a program saving small files meets it
      (test_keys_disk_full.py, issue 11, item 6): every write to a regular
      file fails with ENOSPC, wherever it lands, and so does the flush of
      a stdio stream's buffered data to one (fflush, fclose: the buffer is
      dropped, as the kernel would refuse it). stdio writes through the C
      library's internal write, which no preload catches; its flushes are
      the only place to refuse it. Files are created as usual: a full disk
      still has inodes.

    An unknown first line counts as "eio". In the three full-disk modes an
    optional second line is an fnmatch pattern: only writes to files whose
    path (as /proc/self/fd names it) matches it fail. statvfs and fstatvfs
    report no free blocks in those modes, whatever the pattern. Pipes,
    sockets and terminals are never touched, so the program can still
    talk and log.

    Why the EIO fault fails the syncs and not pwrite: LMDB commits by writing the dirty pages
    (pwrite), syncing them (fdatasync), and only then writing the meta page
    that makes the transaction visible, through a descriptor opened with
    O_DSYNC. Failing the sync makes the commit fail before the meta page is
    written, so a failed commit leaves nothing a later reader can see, and
    the meta page's own write (whose O_DSYNC we do not touch) never races
    with the fault. Failing pwrite as well would be sound for the data
    pages but not for the meta page: a failed meta write after a good
    sync is a state LMDB itself treats as fatal. The "enospc" disk fails
    only writes that need new blocks, and the meta pages are the file's
    first two pages: it can fail the data pages only, as a real full disk
    does.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
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
    S_FAULT_SHORT,              //  growing writes are cut short
    S_FAULT_NOSPACE             //  every write fails with ENOSPC
} s_fault_t;

//  The fault that is on (none while the fault file is missing), and in
//  pattern (of size max) the file pattern from its second line, or ""
static s_fault_t
s_fault (char *pattern, size_t max)
{
    pattern [0] = 0;
    const char *path = getenv ("ZPOST_FAULT_FILE");
    if (!path || !*path)
        return S_FAULT_NONE;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return S_FAULT_NONE;
    char text [PATH_MAX + 32];
    ssize_t size = read (fd, text, sizeof text - 1);
    close (fd);
    text [size > 0? size: 0] = 0;
    char *line = strchr (text, '\n');
    if (line) {
        line++;
        size_t length = strcspn (line, "\r\n");
        if (length < max) {
            memcpy (pattern, line, length);
            pattern [length] = 0;
        }
    }
    if (strncmp (text, "enospc", 6) == 0)
        return S_FAULT_ENOSPC;
    if (strncmp (text, "short", 5) == 0)
        return S_FAULT_SHORT;
    if (strncmp (text, "nospace", 7) == 0)
        return S_FAULT_NOSPACE;
    return S_FAULT_EIO;
}

//  True while the syncs must fail
static int
s_fault_on (void)
{
    char pattern [PATH_MAX];
    return s_fault (pattern, sizeof pattern) == S_FAULT_EIO;
}

//  True if the disk is full, in any of its modes
static int
s_disk_full (s_fault_t fault)
{
    return fault == S_FAULT_ENOSPC || fault == S_FAULT_SHORT
        || fault == S_FAULT_NOSPACE;
}

//  True if fd is a regular file the disk-full fault applies to: its path
//  matches pattern, or pattern is empty
static int
s_target (int fd, const char *pattern, struct stat *st)
{
    if (fstat (fd, st) || !S_ISREG (st->st_mode))
        return 0;
    if (!*pattern)
        return 1;
    char link [64];
    char path [PATH_MAX];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t size = readlink (link, path, sizeof path - 1);
    if (size <= 0)
        return 0;
    path [size] = 0;
    return fnmatch (pattern, path, 0) == 0;
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
    char pattern [PATH_MAX];
    s_fault_t fault = s_fault (pattern, sizeof pattern);
    if (!s_disk_full (fault))
        return (ssize_t) size;
    struct stat st;
    if (!s_target (fd, pattern, &st))
        return (ssize_t) size;
    if (fault == S_FAULT_NOSPACE) {
        errno = ENOSPC;
        return -1;
    }
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
    char pattern [PATH_MAX];
    if (s_disk_full (s_fault (pattern, sizeof pattern))) {
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

//  True if a stream's buffered data must be refused: the disk is "nospace"
//  full and the stream writes to a file the fault applies to
static int
s_stream_full (FILE *stream)
{
    if (!stream || __fpending (stream) == 0)
        return 0;
    char pattern [PATH_MAX];
    if (s_fault (pattern, sizeof pattern) != S_FAULT_NOSPACE)
        return 0;
    int fd = fileno (stream);
    struct stat st;
    return fd >= 0 && s_target (fd, pattern, &st);
}

int
fflush (FILE *stream)
{
    if (s_stream_full (stream)) {
        __fpurge (stream);
        errno = ENOSPC;
        return EOF;
    }
    int (*real) (FILE *) = (int (*) (FILE *)) s_next ("fflush");
    if (!real) {
        errno = ENOSYS;
        return EOF;
    }
    return real (stream);
}

int
fclose (FILE *stream)
{
    int full = s_stream_full (stream);
    if (full)
        __fpurge (stream);
    int (*real) (FILE *) = (int (*) (FILE *)) s_next ("fclose");
    if (!real) {
        errno = ENOSYS;
        return EOF;
    }
    int rc = real (stream);
    if (full) {
        errno = ENOSPC;
        return EOF;
    }
    return rc;
}
