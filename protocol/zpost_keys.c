/*  =========================================================================
    zpost_keys - CURVE key files, the way every zpost program keeps them

    CZMQ's zcert does the file format; this class adds what a secret needs:
    private directories, 0600 files, and a refusal to use a secret that
    others can read.
    =========================================================================
*/

#include "zpost_keys.h"
#include <assert.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_KEY_TEXT_SIZE     40      //  Z85 characters of a CURVE key

bool
zpost_keys_valid_z85 (const char *text)
{
    if (!text || strlen (text) != S_KEY_TEXT_SIZE)
        return false;
    uint8_t key [32];
    return zmq_z85_decode (key, text) != NULL;
}

int
zpost_keys_make_private_dir (const char *path)
{
    assert (path);
    char *copy = strdup (path);
    assert (copy);
    //  Make each parent in turn; only the last one needs to be private
    for (char *slash = strchr (copy + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0755) && errno != EEXIST) {
            zsys_error ("cannot create directory %s: %s", copy, strerror (errno));
            free (copy);
            return -1;
        }
        *slash = '/';
    }
    int rc = 0;
    if (mkdir (copy, 0700) && errno != EEXIST) {
        zsys_error ("cannot create directory %s: %s", copy, strerror (errno));
        rc = -1;
    }
    else {
        struct stat info;
        if (stat (copy, &info) || !S_ISDIR (info.st_mode)) {
            zsys_error ("%s is not a directory", copy);
            rc = -1;
        }
    }
    free (copy);
    return rc;
}

//  True if the secret file exists with no access for group or others.
static int
s_check_secret_mode (const char *secret_path)
{
    struct stat info;
    if (stat (secret_path, &info)) {
        zsys_error ("cannot read %s: %s", secret_path, strerror (errno));
        return -1;
    }
    if (info.st_mode & (S_IRWXG | S_IRWXO)) {
        zsys_error ("refusing secret key %s: it is readable by others "
                    "(mode %03o); run: chmod 600 %s",
                    secret_path, (unsigned) (info.st_mode & 0777), secret_path);
        return -1;
    }
    return 0;
}

zcert_t *
zpost_keys_load (const char *path)
{
    assert (path);
    char *secret_path = zsys_sprintf ("%s_secret", path);
    zcert_t *cert = NULL;
    if (s_check_secret_mode (secret_path) == 0) {
        //  zcert_load reads path_secret when it exists
        cert = zcert_load (path);
        if (!cert)
            zsys_error ("cannot load key pair %s: not a CZMQ certificate", path);
        else {
            static const byte zero [32] = { 0 };
            if (memcmp (zcert_secret_key (cert), zero, 32) == 0) {
                zsys_error ("key file %s holds no secret key", secret_path);
                zcert_destroy (&cert);
            }
        }
    }
    zstr_free (&secret_path);
    return cert;
}

//  strerror, and for a full disk a plain word that it is one
static const char *
s_why (int error)
{
    if (error == ENOSPC || error == EDQUOT)
        return "No space left on device: the disk is full";
    return strerror (error);
}

//  Written to a temporary, synced, then put in place: by rename (), which
//  replaces what is there, or, if exclusive, by link (), which fails with
//  EEXIST (returns 1, error empty) if another process put a file there
//  first. Returns 0, 1, or -1 with the words in error.
static int
s_write_file (const char *path, const char *text, size_t size, mode_t mode,
              bool exclusive, char *error, size_t error_size)
{
    assert (path && text && error);
    error [0] = 0;
    //  The temporary is hidden, so that no directory scan takes it for a
    //  key, and in the same directory, so that rename () is one step
    char *dir_copy = strdup (path);
    char *base_copy = strdup (path);
    assert (dir_copy && base_copy);
    const char *dir = dirname (dir_copy);
    const char *base = basename (base_copy);
    char *temporary = zsys_sprintf ("%s/.%s.tmp-XXXXXX", dir, base);
    assert (temporary);
    int rc = -1;
    int fd = mkstemp (temporary);
    if (fd == -1)
        snprintf (error, error_size, "cannot write beside %s: %s", path,
                  s_why (errno));
    else {
        size_t done = 0;
        while (done < size) {
            ssize_t wrote = write (fd, text + done, size - done);
            if (wrote > 0)
                done += (size_t) wrote;
            else
            if (wrote == -1 && errno == EINTR)
                continue;
            else {
                if (wrote == 0)
                    errno = ENOSPC;
                break;
            }
        }
        if (done != size || fchmod (fd, mode) || fsync (fd))
            snprintf (error, error_size, "cannot write %s: %s; nothing was "
                      "changed", path, s_why (errno));
        else
        if (close (fd)) {
            fd = -1;
            snprintf (error, error_size, "cannot write %s: %s; nothing was "
                      "changed", path, s_why (errno));
        }
        else {
            fd = -1;
            int placed = exclusive? link (temporary, path): rename (temporary, path);
            if (placed && exclusive && errno == EEXIST)
                rc = 1;
            else
            if (placed)
                snprintf (error, error_size, "cannot %s %s: %s",
                          exclusive? "create": "replace", path, s_why (errno));
            else {
                //  The rename itself is durable only once the directory is
                int dir_fd = open (dir, O_RDONLY | O_DIRECTORY);
                if (dir_fd == -1 || fsync (dir_fd))
                    snprintf (error, error_size, "cannot sync the directory "
                              "%s: %s", dir, s_why (errno));
                else
                    rc = 0;
                if (dir_fd != -1)
                    close (dir_fd);
            }
        }
        if (fd != -1)
            close (fd);
        if ((rc || exclusive) && zsys_file_exists (temporary))
            unlink (temporary);
    }
    zstr_free (&temporary);
    free (dir_copy);
    free (base_copy);
    return rc;
}

int
zpost_keys_write_file (const char *path, const char *text, size_t size,
                       mode_t mode, char *error, size_t error_size)
{
    return s_write_file (path, text, size, mode, false, error, error_size);
}

//  One certificate file in CZMQ's format, which zcert_load reads: the
//  public key, and the secret key too if with_secret. Caller frees.
static char *
s_cert_text (zcert_t *cert, bool with_secret)
{
    zconfig_t *root = zconfig_new ("root", NULL);
    assert (root);
    zconfig_set_comment (root, "   ****  zpost CURVE %s key  ****",
                         with_secret? "secret": "public");
    if (with_secret)
        zconfig_set_comment (root, "   Keep it private (mode 0600); never copy "
                                   "it off this machine.");
    else
        zconfig_set_comment (root, "   This file holds no secret; it may be "
                                   "handed out.");
    zconfig_put (root, "metadata", NULL);
    zconfig_put (root, "curve/public-key", zcert_public_txt (cert));
    if (with_secret)
        zconfig_put (root, "curve/secret-key", zcert_secret_txt (cert));
    char *text = zconfig_str_save (root);
    assert (text);
    zconfig_destroy (&root);
    return text;
}

//  Write one half of a pair through s_write_file; exclusive: 1 if the
//  file was there already
static int
s_write_cert (zcert_t *cert, const char *path, bool with_secret, bool exclusive,
              char *error, size_t error_size)
{
    char *text = s_cert_text (cert, with_secret);
    int rc = s_write_file (path, text, strlen (text), with_secret? 0600: 0644,
                           exclusive, error, error_size);
    zstr_free (&text);
    return rc;
}

//  -1 if the file cannot be stat'ed, else its size
static int64_t
s_file_size (const char *path)
{
    struct stat info;
    return stat (path, &info)? -1: (int64_t) info.st_size;
}

zcert_t *
zpost_keys_open_pair (const char *path, char *error, size_t error_size)
{
    assert (path && error);
    error [0] = 0;
    char *secret_path = zsys_sprintf ("%s_secret", path);
    assert (secret_path);
    int64_t public_size = s_file_size (path);
    int64_t secret_size = s_file_size (secret_path);
    bool have_public = public_size >= 0;
    bool have_secret = secret_size >= 0;
    zcert_t *cert = NULL;

    if (public_size == 0 && secret_size == 0) {
        //  An older zpost, stopped by a full disk at its first start, left
        //  both empty: no key was ever in them, so nothing is lost by
        //  making the pair now
        zsys_warning ("%s and %s are empty (left by a start that could not "
                      "write them); making a new key pair", path, secret_path);
        if (unlink (path) || unlink (secret_path)) {
            snprintf (error, error_size, "cannot remove the empty key files %s "
                      "and %s: %s", path, secret_path, strerror (errno));
            goto done;
        }
        have_public = have_secret = false;
        public_size = secret_size = -1;
    }
    if (secret_size == 0) {
        snprintf (error, error_size, "%s is empty, most likely left by a start "
                  "that ran out of disk space; it holds no key. If this key pair "
                  "was never used, remove %s and %s to make a new one",
                  secret_path, path, secret_path);
        goto done;
    }
    if (public_size == 0 && have_secret) {
        //  The secret has the public key as well: made again below
        if (unlink (path)) {
            snprintf (error, error_size, "cannot remove the empty %s: %s", path,
                      strerror (errno));
            goto done;
        }
        have_public = false;
    }
    if (have_secret) {
        struct stat info;
        if (stat (secret_path, &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO))) {
            snprintf (error, error_size, "refusing secret key %s: it is readable "
                      "by others (mode %03o); run: chmod 600 %s", secret_path,
                      (unsigned) (info.st_mode & 0777), secret_path);
            goto done;
        }
        //  zcert_load reads path_secret when it exists
        cert = zcert_load (path);
        static const byte zero [32] = { 0 };
        if (cert && memcmp (zcert_secret_key (cert), zero, 32) == 0)
            zcert_destroy (&cert);
        if (!cert) {
            snprintf (error, error_size, "%s is damaged or cut short (a full "
                      "disk?): it holds no key pair; restore it from a backup, "
                      "or, if this key pair was never used, remove %s and %s to "
                      "make a new one", secret_path, path, secret_path);
            goto done;
        }
        if (!have_public) {
            //  A crash between the two renames: the secret holds the
            //  public key too, so the public file is made again from it
            zsys_warning ("%s was missing; writing it again from %s", path,
                          secret_path);
            if (s_write_cert (cert, path, false, false, error, error_size))
                zcert_destroy (&cert);
        }
        goto done;
    }
    if (have_public) {
        snprintf (error, error_size, "%s exists without %s; restore the missing "
                  "file, or remove %s to make a new key pair (peers will see a "
                  "new key)", path, secret_path, path);
        goto done;
    }
    //  Neither: a new pair, its directory private
    char *dir = strdup (path);
    assert (dir);
    char *slash = strrchr (dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        rc = zpost_keys_make_private_dir (dir);
        if (rc)
            snprintf (error, error_size, "cannot create the directory %s: %s",
                      dir, s_why (errno));
    }
    free (dir);
    if (rc == 0) {
        cert = zcert_new ();
        assert (cert);
        //  Secret first: a crash after it leaves a pair that heals. It is
        //  linked into place, never renamed over: two processes started at
        //  once on one new directory (two stores on one data directory)
        //  must end with one key pair, so the one that comes second takes
        //  the first's, from the top
        rc = s_write_cert (cert, secret_path, true, true, error, error_size);
        if (rc == 1) {
            zcert_destroy (&cert);
            zstr_free (&secret_path);
            return zpost_keys_open_pair (path, error, error_size);
        }
        if (rc || s_write_cert (cert, path, false, false, error, error_size)) {
            unlink (secret_path);
            zcert_destroy (&cert);
        }
    }
done:
    zstr_free (&secret_path);
    return cert;
}

zcert_t *
zpost_keys_load_or_create (const char *path)
{
    assert (path);
    char error [1024];
    zcert_t *cert = zpost_keys_open_pair (path, error, sizeof (error));
    if (!cert)
        zsys_error ("%s", error);
    return cert;
}

int
zpost_keys_public_from (const char *key_or_file, char *key_text)
{
    assert (key_text);
    key_text [0] = 0;
    if (!key_or_file)
        return -1;
    if (zpost_keys_valid_z85 (key_or_file)) {
        strcpy (key_text, key_or_file);
        return 0;
    }
    return zpost_keys_public_from_file (key_or_file, key_text);
}

ssize_t
zpost_keys_read_small (const char *path, char *buffer, size_t max)
{
    assert (path);
    assert (buffer);
    //  O_NONBLOCK: opening a FIFO for reading must not wait for a writer
    int handle = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (handle == -1)
        return -1;
    struct stat info;
    ssize_t total = -1;
    if (fstat (handle, &info) == -1)
        ;
    else
    if (!S_ISREG (info.st_mode))
        errno = ENODEV;
    else
    if ((uint64_t) info.st_size > max)
        errno = EFBIG;
    else {
        total = 0;
        while ((size_t) total < max) {
            ssize_t got = read (handle, buffer + total, max - (size_t) total);
            if (got == -1 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got == -1)
                    total = -1;
                break;
            }
            total += got;
        }
    }
    int error = errno;
    close (handle);
    errno = error;
    if (total >= 0)
        buffer [total] = 0;
    return total;
}

//  The public key of a CZMQ certificate held in text, into key_text
static int
s_certificate_key (const char *text, char *key_text)
{
    zconfig_t *root = zconfig_str_load (text);
    if (!root)
        return -1;
    const char *value = zconfig_get (root, "curve/public-key", "");
    int rc = -1;
    if (zpost_keys_valid_z85 (value)) {
        static const byte zero [32] = { 0 };
        byte binary [32];
        zmq_z85_decode (binary, value);
        if (memcmp (binary, zero, sizeof binary) != 0) {
            strcpy (key_text, value);
            rc = 0;
        }
    }
    zconfig_destroy (&root);
    return rc;
}

int
zpost_keys_public_from_file (const char *path, char *key_text)
{
    assert (key_text);
    key_text [0] = 0;
    if (!path) {
        errno = EINVAL;
        return -1;
    }
    //  A bare key on the first line, or a CZMQ certificate, parsed from the
    //  bytes read once (never opened again by path, which could by then
    //  be something else)
    char *text = (char *) malloc (ZPOST_KEYS_FILE_MAX + 1);
    assert (text);
    int rc = -1;
    if (zpost_keys_read_small (path, text, ZPOST_KEYS_FILE_MAX) >= 0) {
        char line [S_KEY_TEXT_SIZE + 1] = "";
        size_t first = strcspn (text, "\r\n");
        if (first == S_KEY_TEXT_SIZE) {
            memcpy (line, text, first);
            line [first] = 0;
        }
        if (zpost_keys_valid_z85 (line)) {
            strcpy (key_text, line);
            rc = 0;
        }
        else
        //  zconfig is given only what looks like a certificate
        if (strstr (text, "public-key"))
            rc = s_certificate_key (text, key_text);
        if (rc)
            errno = EINVAL;
    }
    free (text);
    return rc;
}

//  Entries in a directory, hidden ones included
static int
s_entries (const char *path)
{
    DIR *handle = opendir (path);
    assert (handle);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (!streq (entry->d_name, ".") && !streq (entry->d_name, ".."))
            count++;
    closedir (handle);
    return count;
}

//  One directory on the way to an ipc socket file: owned by us or root,
//  and, unless last, writable by group or others only when sticky.
//  lstat'ed, so a symlink on the way is checked for its owner too.
static int
s_check_ipc_dir (const char *dir, const char *socket_path, bool last,
                 char *error, size_t error_size)
{
    struct stat info;
    if (lstat (dir, &info)) {
        snprintf (error, error_size, "cannot use the directory %s of the "
                  "socket %s: %s", dir, socket_path, strerror (errno));
        return -1;
    }
    if (info.st_uid != geteuid () && info.st_uid != 0) {
        snprintf (error, error_size, "%s, on the way to the socket %s, "
                  "belongs to uid %u, neither us (uid %u) nor root: its owner "
                  "could put another socket there", dir, socket_path,
                  (unsigned) info.st_uid, (unsigned) geteuid ());
        return -1;
    }
    if (S_ISLNK (info.st_mode))
        return 0;           //  its target is checked on the resolved path
    bool writable = (info.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (writable && (last || !(info.st_mode & S_ISVTX))) {
        snprintf (error, error_size, "the socket %s is in %s, which %s can "
                  "write (mode %04o): another user could take or replace the "
                  "socket; put it in a directory only its owner can write "
                  "(chmod go-w %s)", socket_path, dir,
                  (info.st_mode & S_IWOTH)? "any user": "its group",
                  (unsigned) (info.st_mode & 07777), dir);
        return -1;
    }
    return 0;
}

//  Each directory of an absolute path from the root down; the last one
//  is held to the stricter rule
static int
s_check_ipc_chain (const char *dir, const char *socket_path,
                   char *error, size_t error_size)
{
    assert (*dir == '/');
    char *copy = strdup (dir);
    assert (copy);
    int rc = s_check_ipc_dir ("/", socket_path, streq (copy, "/"),
                              error, error_size);
    for (char *slash = strchr (copy + 1, '/'); rc == 0 && slash;
         slash = strchr (slash + 1, '/')) {
        *slash = 0;
        rc = s_check_ipc_dir (copy, socket_path, false, error, error_size);
        *slash = '/';
    }
    if (rc == 0 && !streq (copy, "/"))
        rc = s_check_ipc_dir (copy, socket_path, true, error, error_size);
    free (copy);
    return rc;
}

int
zpost_keys_check_ipc (const char *path, bool check_socket,
                      char *error, size_t error_size)
{
    assert (path && error);
    //  The directory as given, made absolute, and as it resolves
    char *given = NULL;
    const char *slash = strrchr (path, '/');
    if (slash == path)
        given = strdup ("/");
    else
    if (slash)
        given = zsys_sprintf ("%.*s", (int) (slash - path), path);
    else
        given = strdup (".");
    assert (given);
    if (*given != '/') {
        char cwd [PATH_MAX];
        if (!getcwd (cwd, sizeof (cwd))) {
            snprintf (error, error_size, "cannot check the directory of the "
                      "socket %s: %s", path, strerror (errno));
            free (given);
            return -1;
        }
        char *absolute = streq (given, ".")? strdup (cwd)
                       : zsys_sprintf ("%s%s%s", cwd, streq (cwd, "/")? "": "/", given);
        assert (absolute);
        free (given);
        given = absolute;
    }
    int rc = s_check_ipc_chain (given, path, error, error_size);
    if (rc == 0) {
        char resolved [PATH_MAX];
        if (!realpath (given, resolved)) {
            snprintf (error, error_size, "cannot use the directory %s of the "
                      "socket %s: %s", given, path, strerror (errno));
            rc = -1;
        }
        else
        if (!streq (resolved, given))
            rc = s_check_ipc_chain (resolved, path, error, error_size);
    }
    free (given);
    if (rc == 0 && check_socket) {
        struct stat info;
        if (lstat (path, &info) == 0) {
            if (!S_ISSOCK (info.st_mode)) {
                snprintf (error, error_size, "%s is not a socket", path);
                rc = -1;
            }
            else
            if (info.st_uid != geteuid () && info.st_uid != 0) {
                snprintf (error, error_size, "the socket %s belongs to uid %u, "
                          "neither us (uid %u) nor root: it is not our broker's",
                          path, (unsigned) info.st_uid, (unsigned) geteuid ());
                rc = -1;
            }
        }
        else
        if (errno != ENOENT) {
            snprintf (error, error_size, "cannot check the socket %s: %s",
                      path, strerror (errno));
            rc = -1;
        }
    }
    return rc;
}

void
zpost_keys_test (bool verbose)
{
    if (verbose)
        printf (" * zpost_keys: ");
    char base [] = "/tmp/zpost_keys_test.XXXXXX";
    assert (mkdtemp (base));
    char *dir = zsys_sprintf ("%s/a/b", base);
    char *path = zsys_sprintf ("%s/test.key", dir);
    char *secret_path = zsys_sprintf ("%s_secret", path);

    //  Created on first use, private, and the same pair on the second
    zcert_t *cert = zpost_keys_load_or_create (path);
    assert (cert);
    struct stat info;
    assert (stat (secret_path, &info) == 0);
    assert ((info.st_mode & 0777) == 0600);
    assert (stat (dir, &info) == 0);
    assert ((info.st_mode & 0777) == 0700);
    zcert_t *again = zpost_keys_load_or_create (path);
    assert (again);
    assert (streq (zcert_public_txt (again), zcert_public_txt (cert)));
    assert (streq (zcert_secret_txt (again), zcert_secret_txt (cert)));
    zcert_destroy (&again);

    //  Public key from text, from the certificate, from a bare key file
    char key [41];
    assert (zpost_keys_public_from (zcert_public_txt (cert), key) == 0);
    assert (streq (key, zcert_public_txt (cert)));
    assert (zpost_keys_public_from (path, key) == 0);
    assert (streq (key, zcert_public_txt (cert)));
    char *bare = zsys_sprintf ("%s/bare.txt", base);
    FILE *file = fopen (bare, "w");
    assert (file);
    fprintf (file, "%s\n", zcert_public_txt (cert));
    fclose (file);
    assert (zpost_keys_public_from (bare, key) == 0);
    assert (streq (key, zcert_public_txt (cert)));
    assert (zpost_keys_public_from ("not a key", key) == -1);
    assert (zpost_keys_public_from ("/nonexistent/file", key) == -1);
    assert (zpost_keys_public_from (NULL, key) == -1);
    //  The file-only reader never takes its argument for a key
    assert (zpost_keys_public_from_file (zcert_public_txt (cert), key) == -1);
    assert (zpost_keys_public_from_file (path, key) == 0);
    assert (streq (key, zcert_public_txt (cert)));
    //  Nothing that never ends, waits or is large is read: a FIFO with no
    //  writer, a device, a file over the limit (sparse, so it costs nothing)
    char *fifo = zsys_sprintf ("%s/fifo.key", base);
    assert (mkfifo (fifo, 0600) == 0);
    assert (zpost_keys_public_from (fifo, key) == -1 && errno == ENODEV);
    assert (zpost_keys_public_from ("/dev/zero", key) == -1 && errno == ENODEV);
    char *big = zsys_sprintf ("%s/big.key", base);
    int big_handle = open (big, O_WRONLY | O_CREAT, 0600);
    assert (big_handle >= 0);
    assert (ftruncate (big_handle, (off_t) 4 << 30) == 0);
    close (big_handle);
    assert (zpost_keys_public_from_file (big, key) == -1 && errno == EFBIG);
    char small [8];
    assert (zpost_keys_read_small (bare, small, sizeof small - 1) == -1 && errno == EFBIG);
    assert (zpost_keys_read_small (fifo, small, sizeof small - 1) == -1);
    assert (unlink (fifo) == 0 && unlink (big) == 0);
    zstr_free (&fifo);
    zstr_free (&big);
    assert (!zpost_keys_valid_z85 ("short"));
    assert (!zpost_keys_valid_z85 ("0123456789012345678901234567890123456789\""));

    //  A secret readable by others is refused; so is half a pair
    assert (chmod (secret_path, 0640) == 0);
    assert (zpost_keys_load_or_create (path) == NULL);
    assert (zpost_keys_load (path) == NULL);
    assert (chmod (secret_path, 0600) == 0);
    again = zpost_keys_load (path);
    assert (again);
    zcert_destroy (&again);
    //  The public half alone is missing, or empty: made again from the
    //  secret, which holds both keys
    assert (unlink (path) == 0);
    again = zpost_keys_load_or_create (path);
    assert (again && streq (zcert_public_txt (again), zcert_public_txt (cert)));
    zcert_destroy (&again);
    assert (truncate (path, 0) == 0);
    again = zpost_keys_load_or_create (path);
    assert (again && streq (zcert_public_txt (again), zcert_public_txt (cert)));
    zcert_destroy (&again);
    assert (stat (path, &info) == 0 && info.st_size > 0);
    assert ((info.st_mode & 0777) == 0644);

    //  Only the public half: refused, with a sentence
    char error [1024];
    assert (rename (secret_path, bare) == 0);
    assert (zpost_keys_open_pair (path, error, sizeof (error)) == NULL);
    assert (strstr (error, "exists without"));
    assert (rename (bare, secret_path) == 0);

    //  An empty secret (an old zpost and a full disk) is named, not used;
    //  a damaged one too; both halves empty are replaced by a new pair
    assert (truncate (secret_path, 0) == 0);
    assert (zpost_keys_open_pair (path, error, sizeof (error)) == NULL);
    assert (strstr (error, "is empty"));
    assert (truncate (secret_path, 10) == 0);
    assert (zpost_keys_open_pair (path, error, sizeof (error)) == NULL);
    assert (strstr (error, "damaged or cut short"));
    assert (truncate (secret_path, 0) == 0);
    assert (truncate (path, 0) == 0);
    again = zpost_keys_open_pair (path, error, sizeof (error));
    assert (again);
    assert (!streq (zcert_public_txt (again), zcert_public_txt (cert)));
    zcert_destroy (&again);

    //  Processes that make the pair at once agree on one (two stores
    //  started together on a new data directory): each child prints the
    //  public key it got, and every one must be the key on disk
    for (int round = 0; round < 10; round++) {
        char *race_dir = zsys_sprintf ("%s/race%d", base, round);
        char *race_path = zsys_sprintf ("%s/store.key", race_dir);
        int fds [2];
        assert (pipe (fds) == 0);
        const int racers = 4;
        for (int racer = 0; racer < racers; racer++) {
            pid_t child = fork ();
            assert (child >= 0);
            if (child == 0) {
                close (fds [0]);
                char why [256];
                zcert_t *mine = zpost_keys_open_pair (race_path, why, sizeof (why));
                char line [41] = { 0 };
                if (mine)
                    memcpy (line, zcert_public_txt (mine), 40);
                ssize_t wrote = write (fds [1], line, 40);
                _exit (mine && wrote == 40? 0: 1);
            }
        }
        close (fds [1]);
        char keys [4][41];
        for (int racer = 0; racer < racers; racer++) {
            memset (keys [racer], 0, 41);
            assert (read (fds [0], keys [racer], 40) == 40);
        }
        close (fds [0]);
        for (int racer = 0; racer < racers; racer++) {
            int status;
            assert (wait (&status) > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
        }
        zcert_t *on_disk = zcert_load (race_path);
        assert (on_disk);
        for (int racer = 0; racer < racers; racer++)
            assert (streq (keys [racer], zcert_public_txt (on_disk)));
        zcert_destroy (&on_disk);
        assert (s_entries (race_dir) == 2);     //  the pair, no temporary
        char *race_secret = zsys_sprintf ("%s_secret", race_path);
        assert (unlink (race_path) == 0 && unlink (race_secret) == 0
                && rmdir (race_dir) == 0);
        zstr_free (&race_secret);
        zstr_free (&race_path);
        zstr_free (&race_dir);
    }

    //  Whole files: written, replaced, never a temporary left behind
    assert (zpost_keys_write_file (bare, "one\n", 4, 0600, error, sizeof (error)) == 0);
    assert (zpost_keys_write_file (bare, "two\n", 4, 0640, error, sizeof (error)) == 0);
    assert (stat (bare, &info) == 0 && info.st_size == 4);
    assert ((info.st_mode & 0777) == 0640);
    assert (zpost_keys_write_file ("/nonexistent-dir/file", "x", 1, 0600,
                                   error, sizeof (error)) == -1);
    assert (strstr (error, "/nonexistent-dir/file"));
    assert (s_entries (dir) == 2);          //  the pair, nothing else
    assert (s_entries (base) == 2);         //  a/ and bare.txt

    //  An ipc socket's directory: ours and private, or refused
    char *socket_path = zsys_sprintf ("%s/s.ipc", dir);
    char *middle_dir = zsys_sprintf ("%s/a", base);
    assert (zpost_keys_check_ipc (socket_path, true, error, sizeof (error)) == 0);
    assert (chmod (dir, 0777) == 0);
    assert (zpost_keys_check_ipc (socket_path, false, error, sizeof (error)) == -1);
    assert (strstr (error, "any user") && strstr (error, "0777"));
    assert (chmod (dir, 01770) == 0);        //  sticky is no excuse for the last
    assert (zpost_keys_check_ipc (socket_path, false, error, sizeof (error)) == -1);
    assert (strstr (error, "its group"));
    assert (chmod (dir, 0700) == 0);
    assert (chmod (middle_dir, 0777) == 0);  //  above it: only if sticky
    assert (zpost_keys_check_ipc (socket_path, false, error, sizeof (error)) == -1);
    assert (chmod (middle_dir, 01777) == 0);
    assert (zpost_keys_check_ipc (socket_path, false, error, sizeof (error)) == 0);
    assert (chmod (middle_dir, 0755) == 0);
    FILE *plain = fopen (socket_path, "w");  //  not a socket
    assert (plain);
    fclose (plain);
    assert (zpost_keys_check_ipc (socket_path, false, error, sizeof (error)) == 0);
    assert (zpost_keys_check_ipc (socket_path, true, error, sizeof (error)) == -1);
    assert (strstr (error, "not a socket"));
    unlink (socket_path);
    char *missing = zsys_sprintf ("%s/none/s.ipc", base);
    assert (zpost_keys_check_ipc (missing, false, error, sizeof (error)) == -1);
    zstr_free (&missing);
    zstr_free (&middle_dir);
    zstr_free (&socket_path);

    zcert_destroy (&cert);
    unlink (secret_path);
    unlink (bare);
    rmdir (dir);
    char *middle = zsys_sprintf ("%s/a", base);
    rmdir (middle);
    rmdir (base);
    zstr_free (&middle);
    zstr_free (&bare);
    zstr_free (&secret_path);
    zstr_free (&path);
    zstr_free (&dir);
    if (verbose)
        printf ("OK\n");
}
