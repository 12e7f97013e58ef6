/*  =========================================================================
    client_input - what a person or a script gives the client: passwords,
    lines, a message body, an editor session

    Passwords are read from a terminal without echo (termios), or one line
    at a time from a file descriptor for --password-stdin; never from the
    command line. Reading is byte by byte on the raw descriptor, so no
    stdio buffer keeps a copy, and a line reader takes nothing past its
    line. Buffers that held a secret are wiped (client_input_wipe).

    A message body comes from standard input (client_input_all) or from
    the user's editor ($VISUAL, then $EDITOR, then the config file's,
    then vi) run on an empty
    temporary file (mode 0600, removed afterwards).

    Reads stop with CLIENT_INPUT_INTERRUPTED when Ctrl-C arrives (CZMQ's
    signal handler sets zsys_interrupted, or the guided session's writes
    to its interrupt descriptor); the terminal's echo is always restored
    first.
    =========================================================================
*/

#ifndef CLIENT_INPUT_H_INCLUDED
#define CLIENT_INPUT_H_INCLUDED

#include <czmq.h>

typedef enum {
    CLIENT_INPUT_OK = 0,            //  got it
    CLIENT_INPUT_EOF,               //  the input ended before anything came
    CLIENT_INPUT_TOO_LONG,          //  more than the limit
    CLIENT_INPUT_INTERRUPTED,       //  Ctrl-C
    CLIENT_INPUT_FAILED             //  a system call failed: errno, or the
                                    //  error text for the editor
} client_input_t;

//  Read one line from fd, up to and not including "\n" (a "\r" before it
//  is dropped too); the last line may lack its "\n". At most max bytes,
//  else CLIENT_INPUT_TOO_LONG. On CLIENT_INPUT_OK, *line_p is the line;
//  free it with client_input_wipe.
client_input_t
    client_input_line (int fd, size_t max, char **line_p);

//  Write prompt to stderr and read one line from the terminal fd with
//  echo off. fd must be a terminal. As client_input_line otherwise.
client_input_t
    client_input_secret (int fd, const char *prompt, size_t max, char **secret_p);

//  Read fd to its end, at most max bytes. *text_p is NUL-terminated,
//  *size_p its size (the text may hold NUL bytes; the caller checks).
client_input_t
    client_input_all (int fd, size_t max, char **text_p, size_t *size_p);

//  Run the user's editor on an empty temporary file and return what it
//  left there, at most max bytes. On CLIENT_INPUT_FAILED, error (of
//  error_size bytes) says what went wrong and what to do.
client_input_t
    client_input_editor (size_t max, char **text_p, size_t *size_p,
                         char *error, size_t error_size);

//  Run the user's editor on the file at path, which stays where it is
//  whatever happens (a draft: client_draft). CLIENT_INPUT_OK when the
//  editor exited 0; else CLIENT_INPUT_FAILED with error saying why.
client_input_t
    client_input_edit_file (const char *path, char *error, size_t error_size);

//  The editor command that client_input_editor would run: $VISUAL, else
//  $EDITOR, else the one client_input_set_editor was given (the config
//  file's editor), else vi.
const char *
    client_input_editor_name (void);
void
    client_input_set_editor (const char *editor);

//  A descriptor that becomes readable when Ctrl-C comes (the guided
//  session's signal handler writes to a pipe), or -1 for none (the
//  default): reads then stop with CLIENT_INPUT_INTERRUPTED even when the
//  signal lands before they block.
void
    client_input_set_interrupt_fd (int fd);

//  Wait until fd has something to read: 0, or -1 if the interrupt
//  descriptor became readable first. Returns 0 at once without one.
int
    client_input_wait (int fd);

//  Wipe a string that may hold a secret, free it, set *secret_p to NULL.
void
    client_input_wipe (char **secret_p);

//  Selftest
void
    client_input_test (bool verbose);

#endif
