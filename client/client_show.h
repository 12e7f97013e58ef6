/*  =========================================================================
    client_show - how a message and the statistics look on a terminal

    The one-shot commands and the guided session print a message and the
    statistics the same way, every text made safe (client_output).
    =========================================================================
*/

#ifndef CLIENT_SHOW_H_INCLUDED
#define CLIENT_SHOW_H_INCLUDED

#include "zpost_msg.h"

#define CLIENT_SHOW_NO_SUBJECT  "(no subject)"

//  Print a READ reply on stdout: From, To, Date, Subject, a blank line,
//  and the body. An empty subject shows as "(no subject)".
void
    client_show_message (zpost_msg_t *reply);

//  A subject as a person reads it: "(no subject)" for an empty one (the
//  text stays the caller's; the result is not made safe).
const char *
    client_show_subject (const char *subject);

//  Print a STATS reply on stdout, one "name  value" line each.
void
    client_show_stats (zpost_msg_t *reply);

//  Print a STATS reply of scope user in words: "Inbox: 3 messages, 1
//  unread, 1.5K", "Sent folder: ...", "Quota: 1.5K of 100M used (1%)";
//  figures it does not know follow as "name  value".
void
    client_show_stats_words (zpost_msg_t *reply);

//  The value of STATS figure name in reply, or -1 if it is not there.
int64_t
    client_show_stat (zpost_msg_t *reply, const char *name);

#endif
