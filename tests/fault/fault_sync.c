/*  =========================================================================
    fault_sync - an LD_PRELOAD shim that makes the sync calls fail on demand

    For tests only (tests/integration/test_engine_fault.py, issue 10,
    defect 10): a commit whose sync fails must be answered with an error,
    and must not be found after a restart.

    While the file named by the environment variable ZPOST_FAULT_FILE
    exists, fdatasync, fsync and msync fail with EIO and do nothing; when
    it does not (or the variable is unset) they are the C library's own.
    A test switches the fault on and off by creating and removing that
    file, without signalling the process under test.

    Why these calls and not pwrite: LMDB commits by writing the dirty pages
    (pwrite), syncing them (fdatasync), and only then writing the meta page
    that makes the transaction visible, through a descriptor opened with
    O_DSYNC. Failing the sync makes the commit fail before the meta page is
    written, so a failed commit leaves nothing a later reader can see, and
    the meta page's own write (whose O_DSYNC we do not touch) never races
    with the fault. Failing pwrite as well would be sound for the data
    pages but not for the meta page: a failed meta write after a good
    sync is a state LMDB itself treats as fatal.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

//  True while the fault file exists
static int
s_fault_on (void)
{
    const char *path = getenv ("ZPOST_FAULT_FILE");
    return path && *path && access (path, F_OK) == 0;
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
