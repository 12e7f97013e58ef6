/*  =========================================================================
    client_shell - the guided session: zpost for a person at a terminal

        zpost HOST          zpost --server ADDR          zpost -d ADDR

    The face of the original program: a login menu (create an account, log
    in, quit), then a main menu (inbox, send, delete, statistics, change
    password, log out). The inbox lists the newest messages first, with a
    star on the unread ones, numbered from 1; picking a number reads that
    message. Sending asks for the recipients, the subject, then the body,
    ended by a line holding only "." or by Ctrl-D. Deleting asks "Delete
    #N? [y/N]" first: only y or yes deletes.

    Keys: Ctrl-C cancels the step in progress (a prompt, a password, a
    request on its way) and the menu comes back; Ctrl-D at a menu leaves
    the session, logging out first. SIGTERM and SIGHUP leave the same way.

    On a terminal, lines are read with libedit: editing, and a history of
    what was typed, one per kind of prompt (Up at To: brings back
    recipients, at a menu its digits; never passwords or message bodies).
    A line that is not UTF-8 is refused with a sentence and asked again,
    on a terminal and through a pipe alike. Passwords are read without echo (client_input). When standard
    input is not a terminal, the session reads it line by line instead, so
    a script or a test can drive it through a pipe; prompts are still
    written, and passwords are plain lines.

    Every request goes through client_api, the layer the one-shot
    commands use, and every error is one sentence on stderr, after which
    the menu comes back. The login lives in this process only: the session
    neither reads nor writes the file that `zpost login` keeps.
    =========================================================================
*/

#ifndef CLIENT_SHELL_H_INCLUDED
#define CLIENT_SHELL_H_INCLUDED

#include "client_api.h"

//  Run the guided session with the server and options in app (main has
//  made app->config). Returns the exit status: 0 when the person leaves,
//  else that of the failure that kept the session from starting (2 a bad
//  address, 3 no answer, 4 a key problem).
int
    client_shell_run (client_app_t *app);

//  Selftest
void
    client_shell_test (bool verbose);

#endif
