/*  =========================================================================
    client_output - text another user wrote, made safe for a terminal

    Everything a zpost server sends that a person wrote (a sender's name,
    the recipients, a subject, a body, and the server's own reasons and
    details) reaches the terminal only through this module. A terminal
    obeys control characters and escape sequences; a message that could
    emit them could retitle the window, move the cursor, rewrite what is on
    the screen, or on some terminals answer back as if the user had typed.

    The rule, one character (or one bad byte) at a time over UTF-8:

        printable ASCII, and valid UTF-8 of U+00A0     copied unchanged
        and up that is not hidden (below)
        backslash                                      \\
        newline (LF) and tab                           copied in text (a
                                                       body), escaped in
                                                       a line (all else)
        any other C0 control (0x00-0x1F, CR too)       \xHH, e.g. \x1b
        and DEL (0x7F)
        a C1 control, U+0080..U+009F                   \uHHHH, e.g. \u009b
        a hidden format control: the bidi controls     \uHHHH, e.g. \u202e
        U+061C, U+200E, U+200F, U+202A..U+202E,
        U+2066..U+2069; U+2028, U+2029; U+206A..U+206F;
        U+FEFF; U+FFF9..U+FFFB
        an invisible character: U+00AD, U+034F,        \uHHHH, e.g. \u200b
        U+115F, U+1160, U+17B4, U+17B5, U+180E,
        U+200B, U+2060..U+2065, U+3164, U+FFA0,
        U+FFF0..U+FFF8
        the same past U+FFFF: U+13430..U+1343F,        \UHHHHHHHH, e.g.
        U+1BCA0..U+1BCA3,
        U+1D173..U+1D17A, U+E0000..U+E00FF (tags),     \U000e0001
        U+E01F0..U+E0FFF
        a byte that is not part of valid UTF-8         \xHH, e.g. \xff

    (overlong forms, surrogates, code points past U+10FFFF and truncated
    sequences are "not valid UTF-8", one escaped byte at a time). The
    hidden and invisible ones are Unicode's Default_Ignorable_Code_Point
    and the separators and annotation marks, less what text needs: ZWNJ
    and ZWJ (U+200C, U+200D), the variation selectors (U+FE00..U+FE0F,
    U+E0100..U+E01EF) and the Mongolian free variation selectors
    (U+180B..U+180D, U+180F) are copied. Tags are escaped although the
    flags of England, Scotland and Wales use them: elsewhere they hide
    text. Escapes are plain ASCII and always visible, and since a
    backslash is itself escaped the result is unambiguous: \x is always
    two hex digits standing for one byte, \u always four standing for one
    character up to U+FFFF, \U always eight standing for one character
    past it, \\ one backslash, so the printed text reads back to exactly
    the bytes sent (a subject that reads \x1b prints as \\x1b, a real ESC
    as \x1b).

    Every path out of the client goes through this one rule: plain output
    (client_output_safe), --json (client_output_json: the same characters,
    as JSON's \uXXXX, so the JSON stays valid and means the same), the -v
    log (client_output_message), and every sentence on stderr that quotes
    a server, a user or a file name.

    A terminal whose locale does not take UTF-8 (LANG=C, or a Latin-1
    locale; decided once, by client_output_use_locale, for a stdout that
    is a terminal) gets every character past ASCII escaped too, as \uHHHH
    or \UHHHHHHHH, and "~" for the ellipsis: the text stays readable and
    unambiguous instead of turning into mojibake. Pipes get UTF-8.

    The module also lays out the LIST table to the terminal's width (UTF-8
    aware column widths: TIOCGWINSZ on stdout, else $COLUMNS, else 80; a
    narrow terminal drops the size column, then shortens the date and the
    sender, and cuts what still does not fit), wraps text at word
    boundaries (client_output_wrap), and formats dates (local time) and
    sizes.
    =========================================================================
*/

#ifndef CLIENT_OUTPUT_H_INCLUDED
#define CLIENT_OUTPUT_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "zpost_msg.h"

#define CLIENT_OUTPUT_COLUMNS   80      //  width when nothing says otherwise
#define CLIENT_OUTPUT_DATE_SIZE 32      //  bytes for a formatted date

//  Flags for client_output_safe
#define CLIENT_OUTPUT_TEXT      0       //  multi-line text: LF and tab kept
#define CLIENT_OUTPUT_LINE      1       //  one line: LF and tab escaped too

//  Return a copy of size bytes of text that is safe to print, as the rules
//  above say. NULL text is taken as empty. The caller frees the result.
char *
    client_output_safe (const char *text, size_t size, int flags);

//  The same for a C string (NULL = "").
char *
    client_output_safe_str (const char *text, int flags);

//  Write text to stream made safe (client_output_safe_str).
void
    client_output_print (FILE *stream, const char *text, int flags);

//  Return a copy of JSON text, as jansson writes it (only ASCII outside
//  its strings), in which every character the rule above escapes and JSON
//  lets through raw (DEL, C1, the hidden and invisible characters; a C0
//  control other than LF) is a \uXXXX escape (past U+FFFF, a UTF-16
//  surrogate pair, as JSON has it), and a byte that is not
//  UTF-8 is \ufffd. It is the same JSON value. The caller frees it.
char *
    client_output_json (const char *json);

//  Write msg to the debug log on stderr (the -v log): a line for the
//  command, id, status and reason, then one per field, name=value, each
//  value made safe as one line and cut to 60 columns; passwords and
//  tokens show as (hidden).
void
    client_output_message (zpost_msg_t *msg);

//  Columns that safe text takes on a terminal: most characters 1, East
//  Asian wide characters and emoji 2, combining marks 0.
size_t
    client_output_width (const char *text);

//  The same for the first size bytes of text.
size_t
    client_output_width_n (const char *text, size_t size);

//  Return a copy of safe text in at most columns columns: cut at a
//  character boundary, with "…" in the last column when something was cut,
//  and padded with spaces to exactly columns when pad is true.
char *
    client_output_fit (const char *text, size_t columns, bool pad);

//  Format time (Unix seconds) as local "YYYY-MM-DD HH:MM", or with
//  seconds true "YYYY-MM-DD HH:MM:SS +ZZZZ". buffer holds
//  CLIENT_OUTPUT_DATE_SIZE bytes.
void
    client_output_date (uint64_t time, bool seconds, char *buffer);

//  Format a size in bytes in at most 5 characters: 999, 1023, 1.5K, 120K,
//  3.2M, 45M, 1.1G. buffer holds 8 bytes.
void
    client_output_size (uint64_t bytes, char *buffer);

//  The LIST table. Columns: unread marker, id (right-aligned, id_width
//  wide, at least 2), date, from (or to), subject, size. A line fits
//  client_output_columns (); the subject takes what the others leave, and
//  every text field goes through client_output_safe (one line). The
//  results have no newline; the caller frees them.
char *
    client_output_list_header (int id_width, bool sent);
//  The same header with another name over the id column (at most
//  id_width characters of it), e.g. "#" when rows show their position.
char *
    client_output_list_header_labelled (int id_width, bool sent, const char *id_label);
char *
    client_output_list_row (int id_width, bool unseen, const char *id,
                            uint64_t date, const char *who, const char *subject,
                            uint64_t size);

//  The width of the terminal on stdout (or fd): what TIOCGWINSZ says,
//  else $COLUMNS, else CLIENT_OUTPUT_COLUMNS; or what
//  client_output_set_columns set (0 asks again).
size_t
    client_output_columns (void);
size_t
    client_output_columns_of (int fd);
void
    client_output_set_columns (size_t columns);

//  The height of the terminal on stdout: TIOCGWINSZ, else $LINES, else 24.
size_t
    client_output_rows (void);

//  Decide once whether characters past ASCII are escaped: when stdout is
//  a terminal and the locale's codeset (LC_ALL, LC_CTYPE, LANG) is not
//  UTF-8. Leaves the process's locale as it was.
void
    client_output_use_locale (void);
//  Set it, or ask it, directly (tests).
void
    client_output_set_ascii (bool ascii);
bool
    client_output_ascii (void);

//  What stands for cut text: "…", or "~" when output is ASCII.
const char *
    client_output_ellipsis (void);

//  Return a copy of safe text with lines broken at spaces so that none
//  takes more than columns columns (at least 8); a word longer than a
//  line gets a line of its own, whole, for the terminal to wrap (a break
//  inside it could split an escape or a path). Its own newlines and a line's
//  leading indent are kept.
//  The caller frees it.
char *
    client_output_wrap (const char *text, size_t columns);

//  Selftest
void
    client_output_test (bool verbose);

#endif
