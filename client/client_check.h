/*  =========================================================================
    client_check - what a person typed, checked before it is sent

    The one-shot commands and the guided session take the same things from
    a person (usernames, recipients, a subject, passwords, a body, message
    ids, numbers) and refuse the same mistakes in the same words, before
    anything goes to the server. Each check either returns the value or a
    sentence saying what is wrong; none prints.
    =========================================================================
*/

#ifndef CLIENT_CHECK_H_INCLUDED
#define CLIENT_CHECK_H_INCLUDED

#include <czmq.h>

//  A whole decimal number in min..max into *value_p. 0 or -1.
int
    client_check_int (const char *text, long min, long max, int *value_p);

//  A message id as a person types it: decimal, 1 to 2^64 - 1. 0 or -1.
int
    client_check_id (const char *text, uint64_t *id_p);

//  A username, folded to lower case as the server folds it: the caller
//  frees the result; NULL if it is not a username.
char *
    client_check_username (const char *typed);

//  Recipients: names separated by commas, spaces around them allowed,
//  appended (folded) to *list_p, a comma-separated list, counting them in
//  *count_p. Returns NULL, or what is wrong, for the caller to free.
char *
    client_check_recipients (char **list_p, const char *typed, size_t *count_p);

//  Each returns NULL if it is fine, else a sentence saying what is wrong.
const char *
    client_check_subject (const char *subject);
//  new_password: one being set, which must be at least 8 bytes
const char *
    client_check_password (const char *password, bool new_password);
const char *
    client_check_body (const char *body, size_t size);

//  Selftest
void
    client_check_test (bool verbose);

#endif
