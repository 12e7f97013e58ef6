/*  =========================================================================
    client_draft - a message being written, kept on disk until it is sent

    A person's words must survive whatever happens after they are typed:
    an unknown recipient, an expired session, a 503, no answer, Ctrl-C.
    Every body composed in the editor or in the guided session is a draft
    under the state directory ($XDG_STATE_HOME/zpost/drafts, else
    ~/.local/state/zpost/drafts; the directory 0700), as two files of mode
    0600 named by the draft's number:

        N.txt       the body, exactly: what the editor edits in place
        N.head      one "name: value" line each: user, server, to,
                    subject, in-reply-to (0: a new message), date

    A draft is removed only once its SEND (or ANSWER) got 200; `zpost
    drafts` lists the others, `zpost send --draft N` sends one again.
    Numbers are never taken twice while a draft holds them: a new draft
    gets one more than the largest there is.
    =========================================================================
*/

#ifndef CLIENT_DRAFT_H_INCLUDED
#define CLIENT_DRAFT_H_INCLUDED

#include <czmq.h>

typedef struct _client_draft_t client_draft_t;

//  A new draft, not saved yet (number 0)
client_draft_t *
    client_draft_new (const char *state_dir);

//  Read draft number from the state directory: NULL if there is none (or
//  its head cannot be read); its body is read too.
client_draft_t *
    client_draft_load (const char *state_dir, unsigned number);

void
    client_draft_destroy (client_draft_t **self_p);

//  The numbers of the drafts there are, smallest first (a list of
//  strings the caller destroys); an empty list when there are none.
zlistx_t *
    client_draft_numbers (const char *state_dir);

//  Fields. Setters copy; a NULL text stays "".
void
    client_draft_set (client_draft_t *self, const char *user, const char *server,
                      const char *to, const char *subject, uint64_t in_reply_to);
void
    client_draft_set_to (client_draft_t *self, const char *to);
void
    client_draft_set_subject (client_draft_t *self, const char *subject);
void
    client_draft_set_body (client_draft_t *self, const char *body, size_t size);
unsigned
    client_draft_number (client_draft_t *self);
const char *
    client_draft_user (client_draft_t *self);
const char *
    client_draft_server (client_draft_t *self);
const char *
    client_draft_to (client_draft_t *self);
const char *
    client_draft_subject (client_draft_t *self);
uint64_t
    client_draft_in_reply_to (client_draft_t *self);
uint64_t
    client_draft_date (client_draft_t *self);
const char *
    client_draft_body (client_draft_t *self);
size_t
    client_draft_body_size (client_draft_t *self);

//  Write the draft (head and body), giving it a number if it has none.
//  0, or -1 with client_draft_error saying why.
int
    client_draft_save (client_draft_t *self);

//  Read the body file again (after an editor changed it), at most max
//  bytes. 0, 1 if it is larger than max, or -1 with the error set.
int
    client_draft_reload_body (client_draft_t *self, size_t max);

//  The path of the body file (for the editor), once saved.
const char *
    client_draft_body_path (client_draft_t *self);

//  Remove both files. 0 or -1.
int
    client_draft_remove (client_draft_t *self);

//  What went wrong last, as a sentence.
const char *
    client_draft_error (client_draft_t *self);

//  Selftest
void
    client_draft_test (bool verbose);

#endif
