/*  =========================================================================
    client_compose - what writing a message needs, for both faces of the
    client: the check before a person writes, replies and forwards, and
    the delivery of a draft

    The one-shot commands (send, reply, forward, drafts) and the guided
    session compose the same way:

    1. the recipients and the session are checked first (LOOKUP), so that
       a typo in a name or an expired login is found before the body is
       written; a store without LOOKUP (405) is not a reason to stop;
    2. what the person writes goes to a draft (client_draft) as it is
       written;
    3. the draft is sent (SEND, or ANSWER for a reply) and removed only
       once the answer is 200; whatever else happens, it stays.

    A reply goes to the original's sender (to its recipients when the
    original is one's own), with --all to everyone on it but oneself; its
    subject gets "Re: " once. A forward is a new message whose body quotes
    the original under a "Forwarded message" line; its subject gets
    "Fwd: " once.
    =========================================================================
*/

#ifndef CLIENT_COMPOSE_H_INCLUDED
#define CLIENT_COMPOSE_H_INCLUDED

#include "client_api.h"
#include "client_draft.h"

//  Ask the store whether the session is live and every recipient exists,
//  before anything is written. CLIENT_EXIT_DONE to go on; else the exit
//  status after saying why (a 430 names the unknown users, a 401 forgets
//  the login in state).
int
    client_compose_check (client_app_t *app, const char *recipients,
                          client_state_t *state);

//  "Re: " (or "Fwd: ") before subject, unless it is there already (in any
//  case); cut at a character boundary to fit 255 bytes. Caller frees.
char *
    client_compose_reply_subject (const char *subject);
char *
    client_compose_forward_subject (const char *subject);

//  The recipients of a reply to original (a READ reply), for user me:
//  the sender, or the original's recipients if me sent it; with all,
//  the sender and every recipient but me (me alone if no one else is
//  left). Folded names, comma-separated; at most ZPOST_RECIPIENTS_MAX.
//  Caller frees.
char *
    client_compose_reply_recipients (zpost_msg_t *original, const char *me,
                                     bool all);

//  The original's body quoted: "On DATE, FROM wrote:" and "> " before
//  each line. Caller frees.
char *
    client_compose_quote (zpost_msg_t *original);

//  A forward's body: note (if any) and a blank line, then the original's
//  headers under "---------- Forwarded message ----------" and its body
//  quoted with "> ". Caller frees.
char *
    client_compose_forwarded (zpost_msg_t *original, const char *note);

//  Send the draft's message (ANSWER if it answers one, else SEND). On
//  200, the draft's files are removed and the reply returned. Otherwise
//  the draft stays (saved first if it never was), and NULL or the refusal
//  is returned as client_api returns them.
zpost_msg_t *
    client_compose_deliver (client_app_t *app, client_draft_t *draft,
                            int *status_p);

//  Selftest
void
    client_compose_test (bool verbose);

#endif
