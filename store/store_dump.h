/*  =========================================================================
    store_dump - a whole store in one file, and back: moving the data of
    one database (LMDB or PostgreSQL) into another

    zpost-store --export FILE writes every record of the database, read in
    one snapshot, to FILE; --import FILE writes them into an empty
    database, keeping every id, then reads that database back and checks
    it holds exactly what the dump holds; --digest prints what a database
    holds without writing anything. The format is described in
    store_dump.c. All of it goes through the storage interface
    (store_db.h, store_records.h), so each direction works: LMDB to
    PostgreSQL, PostgreSQL to LMDB, LMDB to LMDB.
    =========================================================================
*/

#ifndef STORE_DUMP_H_INCLUDED
#define STORE_DUMP_H_INCLUDED

#include "store_db.h"
#include <stdio.h>

#define STORE_DUMP_DIGEST_SIZE  32      //  BLAKE2b-256

//  What a database or a dump holds: records of each kind and the digest
//  of them all, rendered in the dump's order
typedef struct {
    uint64_t users;
    uint64_t sessions;
    uint64_t known_keys;
    uint64_t messages;
    uint64_t folder_entries;
    uint64_t replies;
    uint64_t counters;
    uint8_t digest [STORE_DUMP_DIGEST_SIZE];
} store_dump_summary_t;

//  Read every record of db in one snapshot and write them to path, which
//  must not exist (written under a temporary name, synced, then linked
//  into place, so a dump is whole or absent). path NULL: write nothing,
//  only fill *summary (--digest). 0, or -1 after a zsys_error that says
//  why.
int
    store_dump_export (store_db_t *db, const char *path, store_dump_summary_t *summary);

//  Check the dump at path whole (format, sizes, order, counts, digest),
//  then write it into db, which must hold no user and no message, in one
//  transaction (on LMDB, growing the map up to map_max bytes as needed),
//  then read db back into *found. *dumped gets what the dump says. 0 if
//  the import committed and *found equals *dumped; -1 after a zsys_error
//  that says why otherwise (nothing written, unless the two differ).
int
    store_dump_import (store_db_t *db, const char *path, size_t map_max,
                       store_dump_summary_t *dumped, store_dump_summary_t *found);

//  True if the two hold the same records
bool
    store_dump_same (const store_dump_summary_t *one, const store_dump_summary_t *two);

//  One line: "LABEL: users N sessions N known-keys N messages N
//  folder-entries N replies N counters N digest HEX"
void
    store_dump_print (FILE *stream, const char *label, const store_dump_summary_t *summary);

//  Selftest
void
    store_dump_test (bool verbose);

#endif
