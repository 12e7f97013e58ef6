/*  =========================================================================
    fault_space - an LD_PRELOAD shim that makes a disk look full

    For tests only (tests/integration/test_keys_disk_full.py, issue 11,
    item 6): a program that cannot write its key or state files must say
    so and leave no empty or partial file behind.

    While the file named by ZPOST_NOSPACE_FILE exists, writing to a
    regular file fails with ENOSPC, as on a full disk: write () and, for
    stdio, the flush of buffered data (fflush, fclose: the buffer is
    dropped, as the kernel would refuse it). Files are created as usual;
    a full disk still has inodes. ZPOST_NOSPACE_MATCH, if set, limits the
    fault to files whose path matches that fnmatch pattern. Pipes,
    sockets and terminals are never touched, so the program can still
    talk and log.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

//  True if writes to fd must fail now
static int
s_full (int fd)
{
    const char *flag = getenv ("ZPOST_NOSPACE_FILE");
    if (!flag || !*flag || access (flag, F_OK) != 0)
        return 0;
    struct stat info;
    if (fstat (fd, &info) || !S_ISREG (info.st_mode))
        return 0;
    const char *pattern = getenv ("ZPOST_NOSPACE_MATCH");
    if (!pattern || !*pattern)
        return 1;
    char link [64];
    char path [PATH_MAX];
    snprintf (link, sizeof (link), "/proc/self/fd/%d", fd);
    ssize_t size = readlink (link, path, sizeof (path) - 1);
    if (size <= 0)
        return 0;
    path [size] = 0;
    return fnmatch (pattern, path, 0) == 0;
}

//  The next definition of a symbol (the C library's)
static void *
s_next (const char *name)
{
    return dlsym (RTLD_NEXT, name);
}

ssize_t
write (int fd, const void *buffer, size_t size)
{
    if (size > 0 && s_full (fd)) {
        errno = ENOSPC;
        return -1;
    }
    ssize_t (*real) (int, const void *, size_t) =
        (ssize_t (*) (int, const void *, size_t)) s_next ("write");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real (fd, buffer, size);
}

//  stdio writes through the C library's own write, which the one above
//  does not catch: its buffered data is refused here instead
static int
s_stream_full (FILE *stream)
{
    return stream && __fpending (stream) > 0 && s_full (fileno (stream));
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
