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
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

bool
zpost_keys_valid_z85 (const char *text)
{
    if (!text || strlen (text) != 40)
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

zcert_t *
zpost_keys_load_or_create (const char *path)
{
    assert (path);
    char *secret_path = zsys_sprintf ("%s_secret", path);
    bool have_public = zsys_file_exists (path);
    bool have_secret = zsys_file_exists (secret_path);
    zcert_t *cert = NULL;
    if (have_public && have_secret)
        cert = zpost_keys_load (path);
    else
    if (have_public || have_secret)
        zsys_error ("only one of %s and %s exists; restore the other or "
                    "remove both to make a new key pair", path, secret_path);
    else {
        char *dir = strdup (path);
        assert (dir);
        char *slash = strrchr (dir, '/');
        int rc = 0;
        if (slash && slash != dir) {
            *slash = 0;
            rc = zpost_keys_make_private_dir (dir);
        }
        free (dir);
        if (rc == 0) {
            cert = zcert_new ();
            assert (cert);
            //  Create the secret with 0600 from the start: a chmod after
            //  writing would leave a window in which others could read it.
            mode_t old_mask = umask (077);
            rc = zcert_save (cert, path);
            umask (old_mask);
            if (rc == 0)
                rc = chmod (secret_path, 0600);
            if (rc == 0)
                rc = chmod (path, 0644);
            if (rc) {
                zsys_error ("cannot write key pair %s: %s", path, strerror (errno));
                zcert_destroy (&cert);
            }
        }
    }
    zstr_free (&secret_path);
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
    //  A bare key on the first line, or a CZMQ certificate. zcert_load is
    //  tried only on what looks like one: CZMQ leaks on files it cannot parse.
    FILE *file = fopen (key_or_file, "r");
    if (!file)
        return -1;
    char line [256] = "";
    bool certificate = false;
    if (fgets (line, sizeof line, file)) {
        line [strcspn (line, "\r\n")] = 0;
        if (zpost_keys_valid_z85 (line))
            strcpy (key_text, line);
        else {
            do
                certificate = certificate || strstr (line, "public-key") != NULL;
            while (!certificate && fgets (line, sizeof line, file));
        }
    }
    fclose (file);
    if (certificate) {
        zcert_t *cert = zcert_load (key_or_file);
        if (cert) {
            static const byte zero [32] = { 0 };
            if (memcmp (zcert_public_key (cert), zero, 32) != 0)
                strcpy (key_text, zcert_public_txt (cert));
            zcert_destroy (&cert);
        }
    }
    return key_text [0]? 0: -1;
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
    assert (unlink (path) == 0);
    assert (zpost_keys_load_or_create (path) == NULL);

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
