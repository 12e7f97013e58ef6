/*  =========================================================================
    client_show - how a message and the statistics look on a terminal

    The one-shot commands and the guided session print a message and the
    statistics the same way, every text made safe (client_output).
    =========================================================================
*/

#ifndef CLIENT_SHOW_H_INCLUDED
#define CLIENT_SHOW_H_INCLUDED

#include "zpost_msg.h"

//  Print a READ reply on stdout: From, To, Date, Subject, a blank line,
//  and the body.
void
    client_show_message (zpost_msg_t *reply);

//  Print a STATS reply on stdout, one "name  value" line each.
void
    client_show_stats (zpost_msg_t *reply);

#endif
