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
#define CLIENT_SHOW_PAGER       "less"  //  when neither $PAGER nor the config names one

//  Print a READ reply on stdout: From, To, Date, Subject, a blank line,
//  and the body. An empty subject shows as "(no subject)". On a terminal,
//  a message taller than the terminal goes through the pager
//  (client_show_page).
void
    client_show_message (zpost_msg_t *reply);

//  A subject as a person reads it: "(no subject)" for an empty one (the
//  text stays the caller's; the result is not made safe).
const char *
    client_show_subject (const char *subject);

//  Print text on stdout; when stdout is a terminal and the text takes at
//  least as many rows as the terminal has, through the pager
//  instead (client_show_pager), unless that is "" or "cat". A pager that
//  cannot be started is said on stderr, and the text printed as it is.
void
    client_show_page (const char *text);

//  The pager: $PAGER if set (an empty one means none), else the one
//  client_show_set_pager was given (the config file), else "less". It is
//  run by the shell, with LESS=FRX unless LESS is set.
const char *
    client_show_pager (void);
void
    client_show_set_pager (const char *command);

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
