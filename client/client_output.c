/*  =========================================================================
    client_output - text another user wrote, made safe for a terminal

    A sender controls every byte of a subject and a body, and the codec
    only promises valid UTF-8 without NUL: ESC, BEL, CR and U+009B (the
    one-byte CSI of C1-aware terminals) all pass it. So the client treats
    everything it prints from the server as hostile, and this file is the
    one place that decides what may reach a terminal. The rules are in the
    header. Escapes rather than U+FFFD were chosen so that a person can see
    what was there (an ESC sequence shows as \x1b[31m, not as a row of
    question marks) and so the output stays plain ASCII for any locale.
    =========================================================================
*/

#include "client_output.h"

#include <langinfo.h>
#include <locale.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

//  Column layout of the LIST table: marker, space, id, then the fixed
//  columns with two spaces between each.
#define S_DATE_WIDTH        16
#define S_WHO_WIDTH         12
#define S_SIZE_WIDTH        5
#define S_SUBJECT_MIN       10

//  The terminal, as decided once (client_output_set_columns,
//  client_output_use_locale)
static size_t s_columns = 0;        //  0: ask the terminal each time
static bool s_ascii = false;        //  escape every character past ASCII

//  The -v log shows the first S_LOG_COLUMNS columns of a field, escaped
//  from at most S_LOG_PREFIX bytes of it
#define S_LOG_COLUMNS       60
#define S_LOG_PREFIX        512

//  Length of the valid UTF-8 sequence at text (RFC 3629, as the spec's
//  ABNF), or 0 if the bytes there are not one.
static size_t
s_utf8_length (const unsigned char *text, size_t size)
{
    unsigned char lead = text [0];
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    size_t length;
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else
    if (lead == 0xE0) {
        length = 3;
        low = 0xA0;                 //  no overlong forms
    }
    else
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF)
        length = 3;
    else
    if (lead == 0xED) {
        length = 3;
        high = 0x9F;                //  no surrogates
    }
    else
    if (lead == 0xF0) {
        length = 4;
        low = 0x90;                 //  no overlong forms
    }
    else
    if (lead >= 0xF1 && lead <= 0xF3)
        length = 4;
    else
    if (lead == 0xF4) {
        length = 4;
        high = 0x8F;                //  nothing past U+10FFFF
    }
    else
        return 0;
    if (length > size || text [1] < low || text [1] > high)
        return 0;
    for (size_t index = 2; index < length; index++)
        if (text [index] < 0x80 || text [index] > 0xBF)
            return 0;
    return length;
}

static uint32_t
s_code_point (const unsigned char *text, size_t length)
{
    if (length == 1)
        return text [0];
    uint32_t point = text [0] & (0xFF >> (length + 1));
    for (size_t index = 1; index < length; index++)
        point = (point << 6) | (text [index] & 0x3F);
    return point;
}

typedef struct {
    uint32_t first;             //  first code point of the range
    uint32_t last;              //  last code point of the range
} s_range_t;

static bool
s_in_ranges (uint32_t point, const s_range_t *ranges, size_t count)
{
    size_t low = 0;
    size_t high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (point < ranges [middle].first)
            high = middle;
        else
        if (point > ranges [middle].last)
            low = middle + 1;
        else
            return true;
    }
    return false;
}

//  Code points that are valid, printable-looking UTF-8 but that a terminal
//  or a text layout acts on without showing them: the bidi controls, which
//  reorder what follows (a list row's size column included), the line and
//  paragraph separators, the deprecated format controls, the byte order
//  mark and the interlinear annotation marks. And the characters Unicode
//  lets a renderer draw as nothing (Default_Ignorable_Code_Point), so that
//  "A", U+200B, "Z" cannot pass for "AZ" and two subjects that differ
//  cannot look the same: soft hyphen (a terminal never hyphenates, and
//  some draw it, some do not, which shifts a column), the zero width
//  space, word joiner and invisible operators, the Hangul fillers, the
//  grapheme joiner, the Mongolian vowel separator, the Khmer inherent
//  vowels, the shorthand and musical format controls, and the tag block.
//  Tags are escaped too, although three emoji flags (England, Scotland,
//  Wales) are U+1F3F4 and tags: anywhere else tags are invisible and can
//  carry a whole hidden ASCII text, and we would rather show those three
//  flags as a flag and escapes than let text hide in a subject. Kept raw,
//  as text needs them: ZWNJ and ZWJ (U+200C, U+200D: Persian and Indic
//  scripts, emoji sequences), the variation selectors (U+FE00..U+FE0F,
//  U+E0100..U+E01EF: emoji and ideographs) and the Mongolian free
//  variation selectors (U+180B..U+180D, U+180F). A person cannot see any
//  of those escaped, so each is shown as an escape. Sorted, for s_in_ranges.
static const s_range_t s_hidden [] = {
    { 0x00AD, 0x00AD },         //  SOFT HYPHEN
    { 0x034F, 0x034F },         //  COMBINING GRAPHEME JOINER
    { 0x061C, 0x061C },         //  ARABIC LETTER MARK
    { 0x115F, 0x1160 },         //  HANGUL CHOSEONG, JUNGSEONG FILLER
    { 0x17B4, 0x17B5 },         //  KHMER VOWEL INHERENT AQ, AA
    { 0x180E, 0x180E },         //  MONGOLIAN VOWEL SEPARATOR
    { 0x200B, 0x200B },         //  ZERO WIDTH SPACE
    { 0x200E, 0x200F },         //  LRM, RLM
    { 0x2028, 0x202E },         //  LS, PS, LRE, RLE, PDF, LRO, RLO
    { 0x2060, 0x206F },         //  WJ, invisible operators, LRI, RLI, FSI,
                                //  PDI, deprecated format
    { 0x3164, 0x3164 },         //  HANGUL FILLER
    { 0xFEFF, 0xFEFF },         //  BOM, zero width no-break space
    { 0xFFA0, 0xFFA0 },         //  HALFWIDTH HANGUL FILLER
    { 0xFFF0, 0xFFFB },         //  unassigned ignorables, interlinear annotation
    { 0x13430, 0x1343F },       //  Egyptian hieroglyph format controls
    { 0x1BCA0, 0x1BCA3 },       //  shorthand format controls
    { 0x1D173, 0x1D17A },       //  musical symbol format controls
    { 0xE0000, 0xE00FF },       //  LANGUAGE TAG, tags, unassigned
    { 0xE01F0, 0xE0FFF }        //  unassigned ignorables past the selectors
};

//  True for a code point that is never printed as it is: C0, DEL, C1 and
//  the hidden format controls above. LF and tab are the caller's business.
static bool
s_escaped_point (uint32_t point)
{
    return point < 0x20 || (point >= 0x7F && point <= 0x9F)
        || s_in_ranges (point, s_hidden, sizeof (s_hidden) / sizeof (s_hidden [0]));
}

char *
client_output_safe (const char *text, size_t size, int flags)
{
    if (!text)
        size = 0;
    bool line = (flags & CLIENT_OUTPUT_LINE) != 0;
    //  The worst case: a byte as a four-byte escape (a character takes at
    //  most three per byte: \u00ad from two, \U000e0001 from four). Four
    //  per input byte is always enough.
    char *safe = (char *) malloc (size * 4 + 1);
    assert (safe);
    const unsigned char *byte = (const unsigned char *) text;
    size_t out = 0;
    size_t index = 0;
    while (index < size) {
        unsigned char c = byte [index];
        size_t length = c < 0x80? 1: s_utf8_length (byte + index, size - index);
        if (length == 0) {
            //  Not UTF-8: the byte itself, so nothing is lost or guessed
            out += (size_t) sprintf (safe + out, "\\x%02x", c);
            index++;
            continue;
        }
        uint32_t point = s_code_point (byte + index, length);
        if (point == '\\') {
            safe [out++] = '\\';
            safe [out++] = '\\';
        }
        else
        if ((point == '\n' || point == '\t') && !line)
            safe [out++] = (char) c;
        else
        if (point < 0x80 && s_escaped_point (point))
            out += (size_t) sprintf (safe + out, "\\x%02x", c);
        else
        if (s_escaped_point (point) && point <= 0xFFFF)
            out += (size_t) sprintf (safe + out, "\\u%04x", (unsigned) point);
        else
        if (s_escaped_point (point) && point > 0xFFFF)
            //  Past U+FFFF: \U and always eight digits, so \u stays four
            out += (size_t) sprintf (safe + out, "\\U%08x", (unsigned) point);
        else
        if (s_ascii && point <= 0xFFFF && point >= 0x80)
            //  A terminal that does not take UTF-8 would show mojibake
            out += (size_t) sprintf (safe + out, "\\u%04x", (unsigned) point);
        else
        if (s_ascii && point > 0xFFFF)
            out += (size_t) sprintf (safe + out, "\\U%08x", (unsigned) point);
        else {
            memcpy (safe + out, byte + index, length);
            out += length;
        }
        index += length;
    }
    safe [out] = 0;
    return safe;
}

char *
client_output_safe_str (const char *text, int flags)
{
    return client_output_safe (text, text? strlen (text): 0, flags);
}

void
client_output_print (FILE *stream, const char *text, int flags)
{
    assert (stream);
    char *safe = client_output_safe_str (text, flags);
    fputs (safe, stream);
    free (safe);
}

char *
client_output_json (const char *json)
{
    assert (json);
    size_t size = strlen (json);
    //  A two-byte character as a six-byte escape is the worst case
    char *safe = (char *) malloc (size * 6 + 1);
    assert (safe);
    const unsigned char *byte = (const unsigned char *) json;
    size_t out = 0;
    size_t index = 0;
    while (index < size) {
        unsigned char c = byte [index];
        size_t length = c < 0x80? 1: s_utf8_length (byte + index, size - index);
        if (length == 0) {
            //  No JSON writer emits it, and a JSON string cannot hold it
            out += (size_t) sprintf (safe + out, "\\ufffd");
            index++;
            continue;
        }
        uint32_t point = s_code_point (byte + index, length);
        //  LF is the white space of the indented layout; in a string,
        //  jansson has escaped it already
        if (s_escaped_point (point) && point != '\n' && point <= 0xFFFF)
            out += (size_t) sprintf (safe + out, "\\u%04x", (unsigned) point);
        else
        if (s_escaped_point (point) && point > 0xFFFF)
            //  JSON has only \uXXXX: past U+FFFF, a UTF-16 surrogate pair
            out += (size_t) sprintf (safe + out, "\\u%04x\\u%04x",
                                     (unsigned) (0xD800 + ((point - 0x10000) >> 10)),
                                     (unsigned) (0xDC00 + ((point - 0x10000) & 0x3FF)));
        else {
            memcpy (safe + out, byte + index, length);
            out += length;
        }
        index += length;
    }
    safe [out] = 0;
    return safe;
}

void
client_output_message (zpost_msg_t *msg)
{
    assert (msg);
    char *command = client_output_safe_str (
        zpost_msg_command_name (zpost_msg_command (msg)), CLIENT_OUTPUT_LINE);
    char *request_id = client_output_safe_str (zpost_msg_request_id (msg), CLIENT_OUTPUT_LINE);
    if (zpost_msg_is_reply (msg)) {
        char *reason = client_output_safe_str (zpost_msg_reason (msg), CLIENT_OUTPUT_LINE);
        zsys_debug ("zpost_msg: %s reply id=%s status=%d reason=%s", command, request_id,
                    zpost_msg_status (msg), reason);
        free (reason);
    }
    else
        zsys_debug ("zpost_msg: %s request id=%s token=%s", command, request_id,
                    *zpost_msg_token (msg)? "(set)": "(none)");
    free (command);
    free (request_id);
    for (int field = 0; field < ZPOST_F_COUNT; field++) {
        const char *value = zpost_msg_get (msg, (zpost_field_t) field);
        if (!value)
            continue;
        const char *name = zpost_msg_field_name ((zpost_field_t) field);
        if (zpost_msg_field_secret ((zpost_field_t) field)) {
            zsys_debug ("    %s=(hidden)", name);
            continue;
        }
        //  A body can be 16 MiB: only its start is escaped, cut where a
        //  character starts so the cut shows no false \x escape
        size_t size = strlen (value);
        size_t cut = size > S_LOG_PREFIX? S_LOG_PREFIX: size;
        for (int step = 0; step < 3 && cut > 0 && cut < size
                        && ((unsigned char) value [cut] & 0xC0) == 0x80; step++)
            cut--;
        char *safe = client_output_safe (value, cut, CLIENT_OUTPUT_LINE);
        char *shown = client_output_fit (safe, S_LOG_COLUMNS, false);
        bool more = cut < size && client_output_width (safe) <= S_LOG_COLUMNS;
        zsys_debug ("    %s=%s%s", name, shown, more? "\xe2\x80\xa6": "");
        free (safe);
        free (shown);
    }
    if (zpost_msg_rows (msg))
        zsys_debug ("    %zu rows", zpost_msg_rows (msg));
}


//  --------------------------------------------------------------------------
//  Column widths

//  After Markus Kuhn's wcwidth and Unicode's East Asian Width: enough to
//  keep a table straight for the scripts people write subjects in. A
//  terminal that disagrees shifts a column; it cannot be made to do more.
static const s_range_t s_zero_width [] = {
    { 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x05BF, 0x05BF },
    { 0x05C1, 0x05C2 }, { 0x05C4, 0x05C5 }, { 0x05C7, 0x05C7 }, { 0x0610, 0x061A },
    { 0x064B, 0x065F }, { 0x0670, 0x0670 }, { 0x06D6, 0x06DC }, { 0x06DF, 0x06E4 },
    { 0x06E7, 0x06E8 }, { 0x06EA, 0x06ED }, { 0x0E31, 0x0E31 }, { 0x0E34, 0x0E3A },
    { 0x0E47, 0x0E4E }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F },
    { 0x202A, 0x202E }, { 0x2060, 0x2064 }, { 0x20D0, 0x20FF }, { 0xFE00, 0xFE0F },
    { 0xFE20, 0xFE2F }, { 0xFEFF, 0xFEFF }, { 0xE0100, 0xE01EF }
};

static const s_range_t s_double_width [] = {
    { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x23E9, 0x23EC },
    { 0x23F0, 0x23F0 }, { 0x23F3, 0x23F3 }, { 0x25FD, 0x25FE }, { 0x2614, 0x2615 },
    { 0x2648, 0x2653 }, { 0x267F, 0x267F }, { 0x2693, 0x2693 }, { 0x26A1, 0x26A1 },
    { 0x26AA, 0x26AB }, { 0x26BD, 0x26BE }, { 0x26C4, 0x26C5 }, { 0x26CE, 0x26CE },
    { 0x26D4, 0x26D4 }, { 0x26EA, 0x26EA }, { 0x26F2, 0x26F3 }, { 0x26F5, 0x26F5 },
    { 0x26FA, 0x26FA }, { 0x26FD, 0x26FD }, { 0x2705, 0x2705 }, { 0x270A, 0x270B },
    { 0x2728, 0x2728 }, { 0x274C, 0x274C }, { 0x274E, 0x274E }, { 0x2753, 0x2755 },
    { 0x2757, 0x2757 }, { 0x2795, 0x2797 }, { 0x27B0, 0x27B0 }, { 0x27BF, 0x27BF },
    { 0x2B1B, 0x2B1C }, { 0x2B50, 0x2B50 }, { 0x2B55, 0x2B55 }, { 0x2E80, 0x303E },
    { 0x3041, 0x33FF }, { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF },
    { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF }, { 0xFE10, 0xFE19 },
    { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 }, { 0x16FE0, 0x16FE4 },
    { 0x17000, 0x18AFF }, { 0x1B000, 0x1B2FF }, { 0x1F004, 0x1F004 }, { 0x1F0CF, 0x1F0CF },
    { 0x1F18E, 0x1F18E }, { 0x1F191, 0x1F19A }, { 0x1F200, 0x1F251 }, { 0x1F300, 0x1F64F },
    { 0x1F680, 0x1F6FF }, { 0x1F7E0, 0x1F7EB }, { 0x1F90C, 0x1F9FF }, { 0x1FA70, 0x1FAFF },
    { 0x20000, 0x2FFFD }, { 0x30000, 0x3FFFD }
};


//  Width of the character at text, and its length in *length_p. Bytes
//  that are not valid UTF-8 (safe text has none) count as one column.
static size_t
s_char_width (const unsigned char *text, size_t size, size_t *length_p)
{
    size_t length = text [0] < 0x80? 1: s_utf8_length (text, size);
    if (length == 0) {
        *length_p = 1;
        return 1;
    }
    *length_p = length;
    uint32_t point = s_code_point (text, length);
    if (point < 0x20 || (point >= 0x7F && point < 0xA0))
        return 0;
    if (s_in_ranges (point, s_zero_width, sizeof (s_zero_width) / sizeof (s_zero_width [0])))
        return 0;
    if (s_in_ranges (point, s_double_width, sizeof (s_double_width) / sizeof (s_double_width [0])))
        return 2;
    return 1;
}

size_t
client_output_width (const char *text)
{
    assert (text);
    return client_output_width_n (text, strlen (text));
}

size_t
client_output_width_n (const char *text, size_t size)
{
    assert (text);
    const unsigned char *byte = (const unsigned char *) text;
    size_t width = 0;
    size_t index = 0;
    while (index < size) {
        size_t length;
        width += s_char_width (byte + index, size - index, &length);
        index += length;
    }
    return width;
}

char *
client_output_fit (const char *text, size_t columns, bool pad)
{
    assert (text);
    const char *ellipsis = client_output_ellipsis ();      //  one column
    size_t size = strlen (text);
    char *fitted = (char *) malloc (size + columns + 4);
    assert (fitted);
    size_t out = 0;
    size_t used = 0;
    if (client_output_width (text) <= columns) {
        memcpy (fitted, text, size);
        out = size;
        used = client_output_width (text);
    }
    else
    if (columns > 0) {
        const unsigned char *byte = (const unsigned char *) text;
        size_t index = 0;
        while (index < size) {
            size_t length;
            size_t width = s_char_width (byte + index, size - index, &length);
            if (used + width > columns - 1)
                break;
            memcpy (fitted + out, byte + index, length);
            out += length;
            used += width;
            index += length;
        }
        memcpy (fitted + out, ellipsis, strlen (ellipsis));
        out += strlen (ellipsis);
        used += 1;
    }
    while (pad && used < columns) {
        fitted [out++] = ' ';
        used++;
    }
    fitted [out] = 0;
    return fitted;
}


//  --------------------------------------------------------------------------
//  Dates and sizes

void
client_output_date (uint64_t time, bool seconds, char *buffer)
{
    assert (buffer);
    struct tm local;
    //  A time_t cannot hold every number the wire can; such a date is
    //  nonsense anyway, and shown as the number it is.
    time_t when = (time_t) time;
    if (time > (uint64_t) INT64_MAX / 2 || !localtime_r (&when, &local)
    ||  strftime (buffer, CLIENT_OUTPUT_DATE_SIZE,
                  seconds? "%Y-%m-%d %H:%M:%S %z": "%Y-%m-%d %H:%M", &local) == 0)
        snprintf (buffer, CLIENT_OUTPUT_DATE_SIZE, "@%" PRIu64, time);
}

void
client_output_size (uint64_t bytes, char *buffer)
{
    assert (buffer);
    const char *units = "KMGTPE";
    if (bytes < 1024) {
        snprintf (buffer, 8, "%u", (unsigned) bytes);
        return;
    }
    double value = (double) bytes;
    int unit = -1;
    while (value >= 1024 && unit < 5) {
        value /= 1024;
        unit++;
    }
    //  One decimal while it fits in three characters: 1.5K, 9.9M
    if (value < 9.95)
        snprintf (buffer, 8, "%.1f%c", value, units [unit]);
    else
    if (value < 1023.5)
        snprintf (buffer, 8, "%.0f%c", value, units [unit]);
    else
        snprintf (buffer, 8, "1.0%c", units [unit + 1]);
}


//  --------------------------------------------------------------------------
//  The LIST table

//  The columns of the table at a width: a narrower terminal loses the
//  size column first, then the date's year and time, then some of the
//  sender, so the subject keeps room; what still does not fit is cut.
typedef struct {
    int date_width;             //  16 "YYYY-MM-DD HH:MM", 11 "MM-DD HH:MM", 5 "MM-DD"
    int who_width;              //  columns of the sender (or recipients)
    bool size;                  //  the SIZE column is shown
    int subject_width;          //  what is left for the subject
    size_t columns;             //  the width to fit
} s_layout_t;

static s_layout_t
s_layout (int id_width)
{
    size_t columns = client_output_columns ();
    //  marker, space, id, two, date, two, who, two, subject[, two, size]
    s_layout_t layouts [] = {
        { S_DATE_WIDTH, S_WHO_WIDTH, true, 20, columns },
        { S_DATE_WIDTH, S_WHO_WIDTH, false, 15, columns },
        { 11, 10, false, 10, columns },
        { 5, 8, false, 8, columns }
    };
    size_t count = sizeof (layouts) / sizeof (layouts [0]);
    for (size_t index = 0; index < count; index++) {
        s_layout_t *layout = &layouts [index];
        int fixed = 1 + 1 + id_width + 2 + layout->date_width + 2 + layout->who_width + 2
                  + (layout->size? 2 + S_SIZE_WIDTH: 0);
        int left = (int) columns - fixed;
        if (left >= layout->subject_width || index == count - 1) {
            //  The narrowest: what is left, however little
            layout->subject_width = left > 4? left: 4;
            return *layout;
        }
    }
    assert (false);
    return layouts [0];
}

//  A line of the table cut to the layout's width, when even the
//  narrowest layout does not fit. Takes over line.
static char *
s_cut (char *line, s_layout_t *layout)
{
    if (client_output_width (line) <= layout->columns)
        return line;
    char *cut = client_output_fit (line, layout->columns, false);
    free (line);
    return cut;
}

char *
client_output_list_header (int id_width, bool sent)
{
    return client_output_list_header_labelled (id_width, sent, "ID");
}

char *
client_output_list_header_labelled (int id_width, bool sent, const char *id_label)
{
    assert (id_label);
    if (id_width < 2)
        id_width = 2;
    s_layout_t layout = s_layout (id_width);
    char *subject = client_output_fit ("SUBJECT", (size_t) layout.subject_width, true);
    char *who = client_output_fit (sent? "TO": "FROM", (size_t) layout.who_width, true);
    char *header = zsys_sprintf ("  %*.*s  %-*s  %s  %s%s%*s", id_width, id_width, id_label,
                                 layout.date_width, "DATE", who, subject,
                                 layout.size? "  ": "", layout.size? S_SIZE_WIDTH: 0,
                                 layout.size? "SIZE": "");
    assert (header);
    free (subject);
    free (who);
    return s_cut (header, &layout);
}

char *
client_output_list_row (int id_width, bool unseen, const char *id, uint64_t date,
                        const char *who, const char *subject, uint64_t size)
{
    assert (id);
    char *safe_id = client_output_safe_str (id, CLIENT_OUTPUT_LINE);
    if (id_width < 2)
        id_width = 2;
    if ((size_t) id_width < strlen (safe_id))
        id_width = (int) strlen (safe_id);
    s_layout_t layout = s_layout (id_width);
    char date_text [CLIENT_OUTPUT_DATE_SIZE];
    client_output_date (date, false, date_text);
    if (layout.date_width < S_DATE_WIDTH && date_text [0] != '@') {
        //  "YYYY-MM-DD HH:MM": from the month on, or the month and day
        memmove (date_text, date_text + 5, strlen (date_text + 5) + 1);
        if (layout.date_width == 5)
            date_text [5] = 0;
    }
    char *date_column = client_output_fit (date_text, (size_t) layout.date_width, true);
    char size_text [8];
    client_output_size (size, size_text);

    char *safe_who = client_output_safe_str (who, CLIENT_OUTPUT_LINE);
    char *who_column = client_output_fit (safe_who, (size_t) layout.who_width, true);
    char *safe_subject = client_output_safe_str (subject, CLIENT_OUTPUT_LINE);
    char *subject_column = client_output_fit (safe_subject,
                                              (size_t) layout.subject_width, true);
    char *row = zsys_sprintf ("%c %*s  %s  %s  %s%s%*s", unseen? '*': ' ',
                              id_width, safe_id, date_column,
                              who_column, subject_column, layout.size? "  ": "",
                              layout.size? S_SIZE_WIDTH: 0, layout.size? size_text: "");
    assert (row);
    free (safe_id);
    free (date_column);
    free (safe_who);
    free (who_column);
    free (safe_subject);
    free (subject_column);
    return s_cut (row, &layout);
}


//  --------------------------------------------------------------------------
//  The terminal

//  The size of the terminal on fd: 0 with *columns_p and *rows_p set, or
//  -1 if fd is not a terminal that knows its size
static int
s_window (int fd, size_t *columns_p, size_t *rows_p)
{
    struct winsize size;
    if (!isatty (fd) || ioctl (fd, TIOCGWINSZ, &size) || size.ws_col == 0)
        return -1;
    *columns_p = size.ws_col;
    *rows_p = size.ws_row;
    return 0;
}

//  A positive number from the environment, or 0
static size_t
s_variable (const char *name)
{
    const char *text = getenv (name);
    if (!text || !*text || strspn (text, "0123456789") != strlen (text) || strlen (text) > 5)
        return 0;
    return (size_t) atoi (text);
}

void
client_output_set_columns (size_t columns)
{
    s_columns = columns;
}

size_t
client_output_columns_of (int fd)
{
    if (s_columns)
        return s_columns;
    size_t columns, rows;
    if (s_window (fd, &columns, &rows) == 0)
        return columns;
    columns = s_variable ("COLUMNS");
    return columns? columns: CLIENT_OUTPUT_COLUMNS;
}

size_t
client_output_columns (void)
{
    return client_output_columns_of (STDOUT_FILENO);
}

size_t
client_output_rows (void)
{
    size_t columns, rows;
    if (s_window (STDOUT_FILENO, &columns, &rows) == 0 && rows > 0)
        return rows;
    rows = s_variable ("LINES");
    return rows? rows: 24;
}

void
client_output_set_ascii (bool ascii)
{
    s_ascii = ascii;
}

bool
client_output_ascii (void)
{
    return s_ascii;
}

void
client_output_use_locale (void)
{
    //  Only the codeset is wanted; the rest of the client runs in the C
    //  locale, as it always did
    char *saved = strdup (setlocale (LC_CTYPE, NULL));
    assert (saved);
    bool utf8 = true;
    if (setlocale (LC_CTYPE, "")) {
        const char *codeset = nl_langinfo (CODESET);
        utf8 = codeset && (strcasecmp (codeset, "UTF-8") == 0
                           || strcasecmp (codeset, "utf8") == 0);
    }
    else
        utf8 = false;           //  a locale that does not exist: plain ASCII is safe
    setlocale (LC_CTYPE, saved);
    free (saved);
    s_ascii = !utf8 && isatty (STDOUT_FILENO);
}

const char *
client_output_ellipsis (void)
{
    return s_ascii? "~": "\xe2\x80\xa6";
}

char *
client_output_wrap (const char *text, size_t columns)
{
    assert (text);
    if (columns < 8)
        columns = 8;
    size_t size = strlen (text);
    //  A break adds one byte, at most one per character
    char *wrapped = (char *) malloc (size * 2 + 2);
    assert (wrapped);
    const unsigned char *byte = (const unsigned char *) text;
    size_t out = 0;
    size_t index = 0;
    size_t used = 0;                //  columns on the output line so far
    while (index < size) {
        if (byte [index] == '\n') {
            wrapped [out++] = '\n';
            index++;
            used = 0;
            continue;
        }
        //  The spaces before a word, then the word
        size_t spaces = strspn ((const char *) byte + index, " ");
        size_t word = strcspn ((const char *) byte + index + spaces, " \n");
        size_t word_width = client_output_width_n ((const char *) byte + index + spaces,
                                                   word);
        //  A word longer than a line gets a line of its own, whole: the
        //  terminal wraps it, and no break is put inside an escape
        if (used == 0 || used + spaces + word_width <= columns) {
            //  A line's own indent is kept; spaces that reach past the
            //  edge are dropped
            size_t keep = used + spaces <= columns? spaces: columns - used;
            memset (wrapped + out, ' ', keep);
            out += keep;
            used += keep;
        }
        else
        if (word > 0) {
            wrapped [out++] = '\n';
            used = 0;
        }
        memcpy (wrapped + out, byte + index + spaces, word);
        out += word;
        used += word_width;
        index += spaces + word;
    }
    wrapped [out] = 0;
    return wrapped;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>
#include <jansson.h>

//  Read safe text back: \\ a backslash, \xHH a byte, \uHHHH a character
//  up to U+FFFF and \UHHHHHHHH one past it, in UTF-8. Returns the bytes
//  (size in *size_p), or NULL if safe holds a backslash that starts none
//  of those, or a character in the wrong form: then the escapes would be
//  ambiguous.
static char *
s_unescape (const char *safe, size_t *size_p)
{
    size_t size = strlen (safe);
    char *bytes = (char *) malloc (size + 1);
    assert (bytes);
    size_t out = 0;
    for (size_t index = 0; index < size; ) {
        if (safe [index] != '\\') {
            bytes [out++] = safe [index++];
            continue;
        }
        unsigned value;
        char kind = safe [index + 1];
        size_t digits = kind == 'x'? 2: kind == 'u'? 4: kind == 'U'? 8: 0;
        if (kind == '\\') {
            bytes [out++] = '\\';
            index += 2;
        }
        else
        if (digits && strspn (safe + index + 2, "0123456789abcdef") >= digits
        &&  sscanf (safe + index + 2, kind == 'x'? "%2x": kind == 'u'? "%4x": "%8x",
                    &value) == 1
        &&  (kind == 'x'
          || (kind == 'u' && value >= 0x80 && (value < 0xD800 || value > 0xDFFF))
          || (kind == 'U' && value > 0xFFFF && value <= 0x10FFFF))) {
            if (kind == 'x')
                bytes [out++] = (char) value;
            else
            if (value < 0x800) {
                bytes [out++] = (char) (0xC0 | (value >> 6));
                bytes [out++] = (char) (0x80 | (value & 0x3F));
            }
            else
            if (value < 0x10000) {
                bytes [out++] = (char) (0xE0 | (value >> 12));
                bytes [out++] = (char) (0x80 | ((value >> 6) & 0x3F));
                bytes [out++] = (char) (0x80 | (value & 0x3F));
            }
            else {
                bytes [out++] = (char) (0xF0 | (value >> 18));
                bytes [out++] = (char) (0x80 | ((value >> 12) & 0x3F));
                bytes [out++] = (char) (0x80 | ((value >> 6) & 0x3F));
                bytes [out++] = (char) (0x80 | (value & 0x3F));
            }
            index += 2 + digits;
        }
        else {
            free (bytes);
            return NULL;
        }
    }
    *size_p = out;
    return bytes;
}

//  Nothing a terminal acts on is in text: valid UTF-8 throughout, no C0
//  but LF and tab (and those only when allowed), no DEL, no C1, no hidden
//  format control; with ours, every backslash starts one of our escapes
static void
s_assert_safe (const char *text, bool newlines, bool ours)
{
    const unsigned char *byte = (const unsigned char *) text;
    size_t size = strlen (text);
    for (size_t index = 0; index < size; ) {
        size_t length = byte [index] < 0x80? 1: s_utf8_length (byte + index, size - index);
        assert (length > 0);
        uint32_t point = s_code_point (byte + index, length);
        if (newlines && (point == '\n' || point == '\t'))
            ;
        else
            assert (!s_escaped_point (point));
        if (ours && point == '\\')
            assert (strchr ("\\xuU", byte [index + 1]) && byte [index + 1]);
        if (ours && point == '\\' && byte [index + 1] == '\\')
            length++;               //  an escaped backslash, not a new escape
        index += length;
    }
}

static void
s_expect (const char *input, size_t size, int flags, const char *expected, bool verbose)
{
    char *safe = client_output_safe (input, size, flags);
    if (verbose)
        zsys_debug ("safe: '%s'", safe);
    assert (streq (safe, expected));
    s_assert_safe (safe, !(flags & CLIENT_OUTPUT_LINE), true);
    //  The escapes read back to exactly the input
    size_t back_size;
    char *back = s_unescape (safe, &back_size);
    assert (back);
    assert (back_size == size && (size == 0 || memcmp (back, input, size) == 0));
    free (back);
    free (safe);
}

void
client_output_test (bool verbose)
{
    printf (" * client_output: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Ordinary text, accents, CJK, emoji (with a zero width joiner) and
    //  right-to-left letters pass untouched, in both modes
    const char *plain [] = {
        "hello, world", "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "mail \xf0\x9f\x93\xa8 \xf0\x9f\x91\x8d",
        "\xc2\xa0non-breaking \xc2\xa9 \xe2\x82\xac",
        "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",
        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", "", NULL
    };
    for (int index = 0; plain [index]; index++) {
        s_expect (plain [index], strlen (plain [index]), CLIENT_OUTPUT_TEXT, plain [index], verbose);
        s_expect (plain [index], strlen (plain [index]), CLIENT_OUTPUT_LINE, plain [index], verbose);
    }
    //  A backslash is escaped, so a subject that reads \x1b and one that
    //  holds an ESC print differently
    s_expect ("back\\slash", 10, CLIENT_OUTPUT_LINE, "back\\\\slash", verbose);
    s_expect ("\\x1b[2J", 7, CLIENT_OUTPUT_LINE, "\\\\x1b[2J", verbose);
    s_expect ("\x1b[2J", 4, CLIENT_OUTPUT_LINE, "\\x1b[2J", verbose);
    s_expect ("\\u202e\\\\", 8, CLIENT_OUTPUT_TEXT, "\\\\u202e\\\\\\\\", verbose);
    //  Escape sequences, BEL, DEL and NUL are shown, never sent
    s_expect ("\x1b[2J\x1b]0;owned\x07 red", 18, CLIENT_OUTPUT_TEXT,
              "\\x1b[2J\\x1b]0;owned\\x07 red", verbose);
    s_expect ("a\x7f" "b\x00" "c", 5, CLIENT_OUTPUT_TEXT, "a\\x7fb\\x00c", verbose);
    //  Newline and tab: kept in text, escaped in a line
    s_expect ("one\n\ttwo", 8, CLIENT_OUTPUT_TEXT, "one\n\ttwo", verbose);
    s_expect ("one\n\ttwo", 8, CLIENT_OUTPUT_LINE, "one\\x0a\\x09two", verbose);
    //  A CR could overwrite a line: escaped, before LF too, so the output
    //  reads back to what was sent
    s_expect ("safe\rEVIL", 9, CLIENT_OUTPUT_TEXT, "safe\\x0dEVIL", verbose);
    s_expect ("a\r\nb\r", 5, CLIENT_OUTPUT_TEXT, "a\\x0d\nb\\x0d", verbose);
    s_expect ("a\r\nb", 4, CLIENT_OUTPUT_LINE, "a\\x0d\\x0ab", verbose);
    //  C1 controls: U+009B (CSI) and U+0085 (NEL), U+009F the last one;
    //  U+00A0 is the first character past them and passes
    s_expect ("x\xc2\x9b" "31m y", 8, CLIENT_OUTPUT_LINE, "x\\u009b31m y", verbose);
    s_expect ("\xc2\x85\xc2\x80\xc2\x9f\xc2\xa0", 8, CLIENT_OUTPUT_TEXT,
              "\\u0085\\u0080\\u009f\xc2\xa0", verbose);
    //  Every hidden format control and invisible character, each as
    //  \uHHHH, or past U+FFFF as \UHHHHHHHH; the neighbours of the ranges
    //  and what text needs (ZWNJ, ZWJ, variation selectors, Mongolian free
    //  variation selectors, U+1F3F4 the flag) pass
    static const uint32_t hidden [] = {
        0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E,
        0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D,
        0x202E, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2065, 0x2066, 0x2067,
        0x2068, 0x2069, 0x206A, 0x206F, 0x3164, 0xFEFF, 0xFFA0, 0xFFF0, 0xFFF9,
        0xFFFB, 0x13430, 0x1343F, 0x1BCA0, 0x1BCA3, 0x1D173, 0x1D17A, 0xE0000, 0xE0001, 0xE0020,
        0xE0067, 0xE007F, 0xE00FF, 0xE01F0, 0xE0FFF
    };
    static const uint32_t shown [] = {
        0x00AC, 0x00AE, 0x034E, 0x0350, 0x061B, 0x1161, 0x180B, 0x180D,
        0x180F, 0x200A, 0x200C, 0x200D, 0x2027, 0x205F, 0x2070, 0x3165,
        0xFE00, 0xFE0F, 0xFFA1, 0xFFEF, 0xFFFC, 0x1342F, 0x13440, 0x1BC9F, 0x1BCA4, 0x1D172,
        0x1D17B, 0x1F3F4, 0xE0100, 0xE01EF, 0xE1000, 0x10FFFF
    };
    size_t hidden_count = sizeof (hidden) / sizeof (hidden [0]);
    size_t shown_count = sizeof (shown) / sizeof (shown [0]);
    for (size_t index = 0; index < hidden_count + shown_count; index++) {
        bool hide = index < hidden_count;
        uint32_t point = hide? hidden [index]: shown [index - hidden_count];
        char input [8];
        size_t size;
        if (point < 0x800) {
            input [0] = (char) (0xC0 | (point >> 6));
            input [1] = (char) (0x80 | (point & 0x3F));
            size = 2;
        }
        else
        if (point < 0x10000) {
            input [0] = (char) (0xE0 | (point >> 12));
            input [1] = (char) (0x80 | ((point >> 6) & 0x3F));
            input [2] = (char) (0x80 | (point & 0x3F));
            size = 3;
        }
        else {
            input [0] = (char) (0xF0 | (point >> 18));
            input [1] = (char) (0x80 | ((point >> 12) & 0x3F));
            input [2] = (char) (0x80 | ((point >> 6) & 0x3F));
            input [3] = (char) (0x80 | (point & 0x3F));
            size = 4;
        }
        memcpy (input + size, "1K", 3);
        char expected [16];
        if (hide && point <= 0xFFFF)
            snprintf (expected, sizeof (expected), "\\u%04x1K", (unsigned) point);
        else
        if (hide)
            snprintf (expected, sizeof (expected), "\\U%08x1K", (unsigned) point);
        else
            memcpy (expected, input, size + 3);
        s_expect (input, size + 2, CLIENT_OUTPUT_LINE, expected, verbose);
        s_expect (input, size + 2, CLIENT_OUTPUT_TEXT, expected, verbose);
    }
    //  A subdivision flag (England: U+1F3F4, tags "gbeng", CANCEL TAG)
    //  shows as the flag and its escaped tags
    s_expect ("\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81\xa5"
              "\xf3\xa0\x81\xae\xf3\xa0\x81\xa7\xf3\xa0\x81\xbf", 28, CLIENT_OUTPUT_LINE,
              "\xf0\x9f\x8f\xb4\\U000e0067\\U000e0062\\U000e0065\\U000e006e"
              "\\U000e0067\\U000e007f", verbose);
    //  The readers take only the canonical forms: \U for U+FFFF or less,
    //  and a surrogate, are not ours
    size_t wrong_size;
    assert (!s_unescape ("\\U0000202e", &wrong_size));
    assert (!s_unescape ("\\ud800", &wrong_size));
    assert (!s_unescape ("\\U00110000", &wrong_size));
    //  Invalid UTF-8, one byte at a time: a lone byte of the C1 range,
    //  a lone continuation, overlong, surrogate, past U+10FFFF, truncated
    s_expect ("\x9b" "31m", 4, CLIENT_OUTPUT_TEXT, "\\x9b31m", verbose);
    s_expect ("a\x80" "b\xff", 4, CLIENT_OUTPUT_TEXT, "a\\x80b\\xff", verbose);
    s_expect ("\xc0\xaf", 2, CLIENT_OUTPUT_TEXT, "\\xc0\\xaf", verbose);
    s_expect ("\xe0\x80\xaf", 3, CLIENT_OUTPUT_TEXT, "\\xe0\\x80\\xaf", verbose);
    s_expect ("\xed\xa0\x80", 3, CLIENT_OUTPUT_TEXT, "\\xed\\xa0\\x80", verbose);
    s_expect ("\xf4\x90\x80\x80", 4, CLIENT_OUTPUT_TEXT, "\\xf4\\x90\\x80\\x80", verbose);
    s_expect ("\xe2\x82", 2, CLIENT_OUTPUT_TEXT, "\\xe2\\x82", verbose);
    s_expect ("\xe2\x82" "A\xe2\x82\xac", 6, CLIENT_OUTPUT_TEXT, "\\xe2\\x82A\xe2\x82\xac", verbose);
    s_expect ("\xe2\x80\xae", 2, CLIENT_OUTPUT_TEXT, "\\xe2\\x80", verbose);
    //  Random bytes, weighted to the interesting ones: always safe, and
    //  always read back to what went in
    const unsigned char pool [] = {
        0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x5c, 0x7f, 0x80, 0x85, 0x9b, 0xa0,
        0xc2, 0xd8, 0xe2, 0x80, 0xae, 0xa8, 0xef, 0xbb, 0xbf, 0xf0, 0x9f, 'x', 'u', '[',
        0xad, 0x8b, 0xf3, 0x81, 'U'
    };
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        unsigned char input [24];
        size_t size = (size_t) (round % 24);
        for (size_t index = 0; index < size; index++) {
            seed = seed * 1103515245 + 12345;
            input [index] = (seed >> 16) % 3? pool [(seed >> 8) % sizeof (pool)]
                                             : (unsigned char) (seed >> 20);
        }
        for (int flags = CLIENT_OUTPUT_TEXT; flags <= CLIENT_OUTPUT_LINE; flags++) {
            char *safe = client_output_safe ((const char *) input, size, flags);
            s_assert_safe (safe, flags == CLIENT_OUTPUT_TEXT, true);
            size_t back_size;
            char *back = s_unescape (safe, &back_size);
            assert (back && back_size == size && memcmp (back, input, size) == 0);
            free (back);
            free (safe);
        }
    }

    //  JSON: what jansson leaves raw is escaped, the JSON still parses
    //  and holds exactly the text
    const char *hostile = "\x1b[2J \x07\r\x7f \xc2\x85\xc2\x9b \xe2\x80\xae"
                          "\xe2\x81\xa6\xe2\x80\xa8\xe2\x80\xa9\xd8\x9c \\x1b caf\xc3\xa9\n"
                          "A\xe2\x80\x8bZ \xf3\xa0\x80\x81 \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb";
    json_t *value = json_pack ("{s:s}", "subject", hostile);
    assert (value);
    char *dumped = json_dumps (value, JSON_INDENT (2));
    assert (dumped);
    char *json_safe = client_output_json (dumped);
    if (verbose)
        zsys_debug ("json: %s", json_safe);
    s_assert_safe (json_safe, true, false);
    assert (strstr (json_safe, "\\u007f") && strstr (json_safe, "\\u009b")
         && strstr (json_safe, "\\u202e") && strstr (json_safe, "\\u2028")
         && strstr (json_safe, "\\\\x1b") && strstr (json_safe, "caf\xc3\xa9")
         && strstr (json_safe, "A\\u200bZ") && strstr (json_safe, "\\udb40\\udc01")
         && strstr (json_safe, "\xe2\x80\x8d"));
    json_error_t error;
    json_t *parsed = json_loads (json_safe, 0, &error);
    assert (parsed);
    assert (streq (json_string_value (json_object_get (parsed, "subject")), hostile));
    json_decref (parsed);
    json_decref (value);
    free (dumped);
    free (json_safe);
    //  A byte that is not UTF-8 (no writer emits it) cannot stay raw
    json_safe = client_output_json ("[\"a\xff\"]");
    assert (streq (json_safe, "[\"a\\ufffd\"]"));
    free (json_safe);

    //  NULL is empty; the _str form stops at NUL
    s_expect (NULL, 0, CLIENT_OUTPUT_TEXT, "", verbose);
    char *safe = client_output_safe_str ("bell\a", CLIENT_OUTPUT_LINE);
    assert (streq (safe, "bell\\x07"));
    free (safe);

    //  Widths: ASCII 1, accents 1, combining 0, CJK and emoji 2
    assert (client_output_width ("") == 0);
    assert (client_output_width ("abc") == 3);
    assert (client_output_width ("caf\xc3\xa9") == 4);
    assert (client_output_width ("e\xcc\x81") == 1);
    assert (client_output_width ("\xe6\x97\xa5\xe6\x9c\xac") == 4);
    assert (client_output_width ("\xf0\x9f\x93\xa8!") == 3);

    //  Fitting: untouched when it fits, cut with an ellipsis, padded
    char *fitted = client_output_fit ("hello", 8, true);
    assert (streq (fitted, "hello   "));
    free (fitted);
    fitted = client_output_fit ("hello", 5, false);
    assert (streq (fitted, "hello"));
    free (fitted);
    fitted = client_output_fit ("hello world", 6, true);
    assert (streq (fitted, "hello\xe2\x80\xa6"));
    free (fitted);
    //  A wide character never straddles the cut
    fitted = client_output_fit ("ab\xe6\x97\xa5\xe6\x9c\xac", 4, true);
    assert (streq (fitted, "ab\xe2\x80\xa6 "));
    assert (client_output_width (fitted) == 4);
    free (fitted);
    fitted = client_output_fit ("abc", 0, true);
    assert (streq (fitted, ""));
    free (fitted);

    //  Sizes in at most five characters
    char text [8];
    struct { uint64_t bytes; const char *shown; } sizes [] = {
        { 0, "0" }, { 999, "999" }, { 1023, "1023" }, { 1024, "1.0K" },
        { 1536, "1.5K" }, { 10 * 1024, "10K" }, { 1023 * 1024, "1023K" },
        { 1024 * 1024 - 1, "1.0M" }, { 16 * 1024 * 1024, "16M" },
        { UINT64_MAX, "16E" }
    };
    for (size_t index = 0; index < sizeof (sizes) / sizeof (sizes [0]); index++) {
        client_output_size (sizes [index].bytes, text);
        if (verbose)
            zsys_debug ("size %" PRIu64 " -> %s", sizes [index].bytes, text);
        assert (streq (text, sizes [index].shown));
        assert (strlen (text) <= S_SIZE_WIDTH);
    }

    //  Dates in local time; in UTC so the test knows what to expect
    char *saved_tz = getenv ("TZ")? strdup (getenv ("TZ")): NULL;
    setenv ("TZ", "UTC", 1);
    tzset ();
    char date [CLIENT_OUTPUT_DATE_SIZE];
    client_output_date (1700000000, false, date);
    assert (streq (date, "2023-11-14 22:13"));
    client_output_date (1700000000, true, date);
    assert (streq (date, "2023-11-14 22:13:20 +0000"));
    client_output_date (UINT64_MAX, false, date);
    assert (streq (date, "@18446744073709551615"));

    //  The table: every line exactly 80 columns, whatever the subject
    client_output_set_columns (80);
    char *header = client_output_list_header (3, false);
    if (verbose)
        zsys_debug ("[%s]", header);
    assert (client_output_width (header) == CLIENT_OUTPUT_COLUMNS);
    assert (streq (header, "   ID  DATE              FROM          SUBJECT"
                           "                              SIZE"));
    free (header);
    header = client_output_list_header_labelled (3, false, "#");
    assert (client_output_width (header) == CLIENT_OUTPUT_COLUMNS);
    assert (strncmp (header, "    #  DATE", 11) == 0);
    free (header);
    header = client_output_list_header (5, true);
    assert (strstr (header, "  TO  "));
    assert (client_output_width (header) == CLIENT_OUTPUT_COLUMNS);
    free (header);

    char *row = client_output_list_row (3, true, "42", 1700000000, "alice",
                                        "Lunch?", 1536);
    if (verbose)
        zsys_debug ("[%s]", row);
    assert (streq (row, "*  42  2023-11-14 22:13  alice         Lunch? "
                        "                              1.5K"));
    free (row);
    const char *subjects [] = {
        "a subject far too long for one line of the table, which it must not wrap",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d "
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d "
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d",
        "\x1b[31mred\x1b[0m\x07\r\xc2\x9b\t and \xf0\x9f\x93\xa8\xf0\x9f\x93\xa8"
        "\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8",
        "", NULL
    };
    for (int index = 0; subjects [index]; index++) {
        row = client_output_list_row (20, false, "18446744073709551615", 0,
                                      "a-very-long-user-name-of-32-char",
                                      subjects [index], UINT64_MAX);
        if (verbose)
            zsys_debug ("[%s]", row);
        assert (client_output_width (row) == CLIENT_OUTPUT_COLUMNS);
        assert (!strchr (row, '\x1b') && !strchr (row, '\a') && !strchr (row, '\r'));
        assert (!strstr (row, "\xc2\x9b"));
        free (row);
    }
    //  An id wider than promised widens its column, the subject gives way
    row = client_output_list_row (2, false, "123456", 0, "bob", "x", 1);
    assert (client_output_width (row) == CLIENT_OUTPUT_COLUMNS);
    free (row);

    //  Narrower terminals: the size goes, then the year, then the time;
    //  every line takes the width exactly, down to 31 columns, and is cut
    //  to it below
    size_t widths [] = { 79, 64, 52, 40, 31, 24 };
    for (size_t index = 0; index < sizeof (widths) / sizeof (widths [0]); index++) {
        client_output_set_columns (widths [index]);
        header = client_output_list_header (2, false);
        row = client_output_list_row (2, true, "7", 1700000000, "alice",
                                      "a subject of several words", 1536);
        if (verbose)
            zsys_debug ("[%s]\n[%s]", header, row);
        assert (client_output_width (header) == widths [index]);
        assert (client_output_width (row) == widths [index]);
        assert ((strstr (row, "1.5K") != NULL) == (widths [index] >= 65));
        free (header);
        free (row);
    }
    client_output_set_columns (40);
    row = client_output_list_row (2, true, "7", 1700000000, "alice", "Lunch?", 1536);
    assert (streq (row, "*  7  11-14  alice     Lunch?           "));
    free (row);
    client_output_set_columns (80);

    //  Wrapping at word boundaries
    char *wrapped = client_output_wrap ("the quick brown fox jumps over the lazy dog", 10);
    assert (streq (wrapped, "the quick\nbrown fox\njumps over\nthe lazy\ndog"));
    free (wrapped);
    wrapped = client_output_wrap ("  indented line\n\nabcdefghijklmnopqrst end", 10);
    assert (streq (wrapped, "  indented\nline\n\nabcdefghijklmnopqrst\nend"));
    free (wrapped);
    wrapped = client_output_wrap ("Subject: \\x1b\\x1b\\x1b\\x1b\\x1b", 10);
    assert (streq (wrapped, "Subject:\n\\x1b\\x1b\\x1b\\x1b\\x1b"));
    free (wrapped);
    wrapped = client_output_wrap ("\xe6\x97\xa5\xe6\x9c\xac \xe6\x97\xa5\xe6\x9c\xac"
                                  "\xe6\x97\xa5 ab", 8);
    assert (streq (wrapped, "\xe6\x97\xa5\xe6\x9c\xac\n\xe6\x97\xa5\xe6\x9c\xac"
                            "\xe6\x97\xa5\nab"));
    free (wrapped);
    wrapped = client_output_wrap ("fits", 80);
    assert (streq (wrapped, "fits"));
    free (wrapped);

    //  ASCII output: every character past ASCII escaped, the ellipsis too
    client_output_set_ascii (true);
    char *ascii = client_output_safe_str ("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x93\xa8",
                                          CLIENT_OUTPUT_LINE);
    assert (streq (ascii, "caf\\u00e9 \\u2615 \\U0001f4e8"));
    free (ascii);
    fitted = client_output_fit ("abcdef", 4, false);
    assert (streq (fitted, "abc~"));
    free (fitted);
    client_output_set_ascii (false);
    client_output_set_columns (0);

    if (saved_tz)
        setenv ("TZ", saved_tz, 1);
    else
        unsetenv ("TZ");
    tzset ();
    free (saved_tz);
    //  @end

    printf ("OK\n");
}
