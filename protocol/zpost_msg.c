/*  =========================================================================
    zpost_msg - the codec of the ZPOST client protocol

    The grammar lives in two tables: s_field_specs says what each field is
    (type and limit) wherever it appears, and s_command_specs says which
    fields each command's request, reply and reply rows hold, in order.
    Decoding walks a message against those tables and stops at the first
    frame that does not fit, recording the status and reason the spec
    requires; it never reads past the last frame and never trusts a size
    it has not checked. Encoding walks the same tables, so what we send is
    what we accept.
    =========================================================================
*/

#include "zpost_msg.h"
#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

//  ---------------------------------------------------------------------------
//  The grammar

typedef enum {
    S_TYPE_ENUM,                //  one of a fixed list of words
    S_TYPE_NAME,                //  a username
    S_TYPE_NAMES,               //  comma-separated usernames
    S_TYPE_SECRET,              //  a password: any UTF-8
    S_TYPE_LINE,                //  UTF-8 without CR or LF
    S_TYPE_TEXT,                //  UTF-8
    S_TYPE_NUMBER,              //  decimal unsigned 64-bit, within min..max
    S_TYPE_TOKEN,               //  64 lowercase hex digits
    S_TYPE_WORD,                //  [a-z0-9-], for STATS names
    S_TYPE_QUERY                //  UTF-8 without control characters, at
                                //  least min_value bytes (SEARCH)
} s_type_t;

typedef struct {
    const char *name;           //  name as the spec writes it
    s_type_t type;              //  what the bytes must be
    size_t max_size;            //  most bytes allowed
    uint64_t min_value;         //  S_TYPE_NUMBER: least value; S_TYPE_QUERY: fewest bytes
    uint64_t max_value;         //  S_TYPE_NUMBER: greatest value
    const char *choices [5];    //  S_TYPE_ENUM: the words, NULL-terminated
} s_field_spec_t;

//  Both tables are expansions of the one definition in zpost_commands.h.
#define S_UNPAREN(...) __VA_ARGS__
#define S_FIELD_SPEC(upper, name, type, max_size, min_value, max_value, \
                     choices, syntax, limit, fault) \
    [ZPOST_F_##upper] = { name, S_TYPE_##type, max_size, min_value, max_value, \
                          { S_UNPAREN choices } },

static const s_field_spec_t s_field_specs [ZPOST_F_COUNT] = {
    ZPOST_FIELDS (S_FIELD_SPEC)
};

//  Field lists end at ZPOST_F_COUNT.
#define S_END ZPOST_F_COUNT
#define S_FIELDS_MAX 10

//  A field list from the definition, "(A, B,)", as an array ended by S_END.
#define S_LIST(...) { __VA_ARGS__ S_END }

typedef struct {
    const char *name;                       //  wire name
    unsigned flags;                         //  ZPOST_CMD_SESSION ...
    zpost_field_t request [S_FIELDS_MAX];   //  request fields in order
    zpost_field_t reply [S_FIELDS_MAX];     //  fixed fields of a 200 reply
    zpost_field_t row [S_FIELDS_MAX];       //  fields of each reply row
    size_t rows_max;                        //  most rows in one reply
} s_command_spec_t;

#define S_COMMAND_SPEC(upper, lower, wire, flags, request, reply, row, rows_max) \
    [ZPOST_CMD_##upper] = { wire, flags, S_LIST request, S_LIST reply, \
                            S_LIST row, rows_max },

static const s_command_spec_t s_command_specs [ZPOST_CMD_COUNT] = {
    [ZPOST_CMD_NONE] = { "", 0, { S_END }, { S_END }, { S_END }, 0 },
    ZPOST_COMMANDS (S_COMMAND_SPEC)
};

//  A request has signature, command, request id and token before its fields;
//  a reply has signature, command, request id, status and reason.
#define S_REQUEST_HEAD  4
#define S_REPLY_HEAD    5

#define S_LIST_OF(list) S_LIST list
static const zpost_field_t s_error_fields [] = S_LIST_OF (ZPOST_ERROR_FIELDS);

//  ---------------------------------------------------------------------------
//  The message

struct _zpost_msg_t {
    zframe_t *routing_id;                   //  peer on a ROUTER, or NULL
    bool is_reply;                          //  reply rather than request
    zpost_command_t command;                //  ZPOST_CMD_NONE until known
    char request_id [ZPOST_REQUEST_ID_MAX + 1];     //  "" until known
    char token [ZPOST_TOKEN_SIZE + 1];      //  session token or ""
    int status;                             //  reply status; decode error
    char *reason;                           //  reply reason; what was wrong
    const char *fault_field;                //  after a bad decode: field at fault
    char client_key [ZPOST_KEY_TEXT_SIZE + 1];      //  Z85 key from ZAP, or ""
    char *fields [ZPOST_F_COUNT];           //  fixed fields; NULL = absent
    char **row_values;                      //  rows, flattened row by row
    size_t row_values_count;                //  values in row_values
    size_t row_values_max;                  //  allocated slots
};

static size_t
s_count (const zpost_field_t *list)
{
    size_t count = 0;
    while (count < S_FIELDS_MAX && list [count] != S_END)
        count++;
    return count;
}

//  The fixed fields this message carries, given its kind and status.
static const zpost_field_t *
s_fixed_fields (zpost_msg_t *self)
{
    const s_command_spec_t *spec = &s_command_specs [self->command];
    if (!self->is_reply)
        return spec->request;
    return self->status == ZPOST_OK? spec->reply: s_error_fields;
}

static const zpost_field_t *
s_row_fields (zpost_msg_t *self)
{
    static const zpost_field_t none [] = { S_END };
    if (self->is_reply && self->status == ZPOST_OK)
        return s_command_specs [self->command].row;
    return none;
}

//  Seen only by the selftest: called with every buffer that may have held
//  a secret, after the wipe and before the free, so that a test can prove
//  the wipe happened. NULL in every program.
static void (*s_free_hook) (const void *data, size_t size) = NULL;

//  Free a field's value. A password (or a session token) is wiped first,
//  with sodium_memzero, which the compiler may not drop as a dead store.
static void
s_free_value (zpost_msg_t *self, zpost_field_t field)
{
    char *value = self->fields [field];
    if (!value)
        return;
    s_type_t type = s_field_specs [field].type;
    if (type == S_TYPE_SECRET || type == S_TYPE_TOKEN) {
        size_t size = strlen (value);
        sodium_memzero (value, size);
        if (s_free_hook)
            s_free_hook (value, size);
    }
    zstr_free (&self->fields [field]);
}

static bool
s_frame_is (zframe_t *frame, const char *text)
{
    size_t size = strlen (text);
    return zframe_size (frame) == size && memcmp (zframe_data (frame), text, size) == 0;
}

size_t
zpost_msg_wipe_frames (zmsg_t *msg)
{
    if (!msg)
        return 0;
    //  Find the signature, past any envelope or link header
    zframe_t *frame = zmsg_first (msg);
    while (frame && !s_frame_is (frame, ZPOST_MSG_SIGNATURE))
        frame = zmsg_next (msg);
    size_t skip = 2;                //  signature and command are no secret
    if (frame) {
        zframe_t *command = zmsg_next (msg);
        zpost_command_t known = ZPOST_CMD_NONE;
        for (int index = ZPOST_CMD_NONE + 1; command && index < ZPOST_CMD_COUNT; index++)
            if (s_frame_is (command, s_command_specs [index].name))
                known = (zpost_command_t) index;
        //  Only a command with a password step carries one; a command we
        //  cannot name might be one misspelt, so it is wiped too
        if (known != ZPOST_CMD_NONE
        && !(s_command_specs [known].flags & ZPOST_CMD_PASSWORD))
            return 0;
        frame = zmsg_first (msg);
        while (!s_frame_is (frame, ZPOST_MSG_SIGNATURE))
            frame = zmsg_next (msg);
    }
    else {
        frame = zmsg_first (msg);   //  no signature: anything may be a password
        skip = 0;
    }
    size_t wiped = 0;
    for (size_t index = 0; frame; index++, frame = zmsg_next (msg))
        if (index >= skip && zframe_size (frame) > 0) {
            sodium_memzero (zframe_data (frame), zframe_size (frame));
            wiped++;
        }
    return wiped;
}

//  Every frame list the codec frees goes through here
static void
s_destroy_frames (zmsg_t **msg_p)
{
    if (*msg_p) {
        zpost_msg_wipe_frames (*msg_p);
        if (s_free_hook)
            for (zframe_t *frame = zmsg_first (*msg_p); frame; frame = zmsg_next (*msg_p))
                s_free_hook (zframe_data (frame), zframe_size (frame));
        zmsg_destroy (msg_p);
    }
}

static void
s_clear_fields (zpost_msg_t *self)
{
    for (size_t index = 0; index < ZPOST_F_COUNT; index++)
        s_free_value (self, (zpost_field_t) index);
    for (size_t index = 0; index < self->row_values_count; index++)
        zstr_free (&self->row_values [index]);
    self->row_values_count = 0;
}

static void
s_reset (zpost_msg_t *self)
{
    s_clear_fields (self);
    self->is_reply = false;
    self->command = ZPOST_CMD_NONE;
    self->request_id [0] = 0;
    self->token [0] = 0;
    self->status = 0;
    zstr_free (&self->reason);
    self->fault_field = NULL;
}

zpost_msg_t *
zpost_msg_new (void)
{
    zpost_msg_t *self = (zpost_msg_t *) zmalloc (sizeof (zpost_msg_t));
    assert (self);
    return self;
}

void
zpost_msg_destroy (zpost_msg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zpost_msg_t *self = *self_p;
        s_clear_fields (self);
        sodium_memzero (self->token, sizeof self->token);
        free (self->row_values);
        zstr_free (&self->reason);
        zframe_destroy (&self->routing_id);
        free (self);
        *self_p = NULL;
    }
}

zpost_msg_t *
zpost_msg_new_request (zpost_command_t command, const char *request_id,
                       const char *token)
{
    assert (command > ZPOST_CMD_NONE && command < ZPOST_CMD_COUNT);
    assert (zpost_msg_valid_request_id (request_id));
    zpost_msg_t *self = zpost_msg_new ();
    self->command = command;
    strcpy (self->request_id, request_id);
    if (token) {
        assert (strlen (token) == 0 || strlen (token) == ZPOST_TOKEN_SIZE);
        strcpy (self->token, token);
    }
    return self;
}

zpost_msg_t *
zpost_msg_new_reply (zpost_msg_t *request, int status, const char *reason)
{
    assert (request);
    assert (status >= 100 && status <= 999);
    zpost_msg_t *self = zpost_msg_new ();
    self->is_reply = true;
    self->command = request->command;
    strcpy (self->request_id, request->request_id);
    self->status = status;
    if (!reason)
        reason = zpost_status_reason (status);
    //  A reason is one line of at most ZPOST_REASON_MAX bytes; cut at a
    //  character boundary so the cut never makes invalid UTF-8.
    size_t size = strlen (reason);
    if (size > ZPOST_REASON_MAX) {
        size = ZPOST_REASON_MAX;
        while (size > 0 && ((unsigned char) reason [size] & 0xC0) == 0x80)
            size--;
    }
    self->reason = (char *) zmalloc (size + 1);
    assert (self->reason);
    memcpy (self->reason, reason, size);
    for (size_t index = 0; index < size; index++)
        if (self->reason [index] == '\r' || self->reason [index] == '\n')
            self->reason [index] = ' ';
    if (request->routing_id)
        self->routing_id = zframe_dup (request->routing_id);
    //  Answering a bad decode: name the field at fault, for scripts
    if (!request->is_reply && request->fault_field && status == request->status)
        self->fields [ZPOST_F_DETAIL] = strdup (request->fault_field);
    return self;
}

//  ---------------------------------------------------------------------------
//  Validation of single values

//  Strict UTF-8, as the spec's ABNF (UTF8-2, UTF8-3, UTF8-4) writes it:
//  each lead byte allows one range for the byte after it, which is what
//  rules out overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
//  (ED A0..BF) and values past U+10FFFF (F4 90..BF, F5..FF); every further
//  byte is 80..BF; a sequence cut short by the end is refused.
bool
zpost_msg_valid_utf8 (const char *data, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) data;
    size_t index = 0;
    while (index < size) {
        unsigned char lead = bytes [index];
        if (lead < 0x80) {
            index++;
            continue;
        }
        size_t length;
        unsigned char low = 0x80;           //  range of the second byte
        unsigned char high = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF)
            length = 2;
        else
        if (lead == 0xE0) {
            length = 3;
            low = 0xA0;                     //  below is overlong
        }
        else
        if (lead == 0xED) {
            length = 3;
            high = 0x9F;                    //  above is a surrogate
        }
        else
        if (lead >= 0xE1 && lead <= 0xEF)
            length = 3;
        else
        if (lead == 0xF0) {
            length = 4;
            low = 0x90;                     //  below is overlong
        }
        else
        if (lead == 0xF4) {
            length = 4;
            high = 0x8F;                    //  above is past U+10FFFF
        }
        else
        if (lead >= 0xF1 && lead <= 0xF3)
            length = 4;
        else
            return false;       //  continuation byte, overlong lead, or > U+10FFFF
        if (size - index < length)
            return false;       //  truncated sequence
        if (bytes [index + 1] < low || bytes [index + 1] > high)
            return false;
        for (size_t next = 2; next < length; next++)
            if ((bytes [index + next] & 0xC0) != 0x80)
                return false;
        index += length;
    }
    return true;
}

static bool
s_name_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
s_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

static bool
s_valid_name (const char *name, size_t size)
{
    if (size == 0 || size > ZPOST_NAME_MAX || !s_alnum (name [0]))
        return false;
    for (size_t index = 0; index < size; index++)
        if (!s_name_char (name [index]))
            return false;
    return true;
}

bool
zpost_msg_valid_username (const char *name)
{
    return name && s_valid_name (name, strlen (name));
}

bool
zpost_msg_valid_request_id (const char *request_id)
{
    if (!request_id)
        return false;
    size_t size = strlen (request_id);
    if (size == 0 || size > ZPOST_REQUEST_ID_MAX)
        return false;
    for (size_t index = 0; index < size; index++)
        if (request_id [index] < 0x21 || request_id [index] > 0x7E)
            return false;
    return true;
}

static bool
s_valid_token (const char *data, size_t size)
{
    if (size != ZPOST_TOKEN_SIZE)
        return false;
    for (size_t index = 0; index < size; index++)
        if (!((data [index] >= '0' && data [index] <= '9')
        ||    (data [index] >= 'a' && data [index] <= 'f')))
            return false;
    return true;
}

//  Parse a decimal without sign or leading zeros; false if not one, or if
//  it does not fit in 64 bits.
static bool
s_parse_number (const char *data, size_t size, uint64_t *value_p)
{
    if (size == 0 || size > 20 || (size > 1 && data [0] == '0'))
        return false;
    uint64_t value = 0;
    for (size_t index = 0; index < size; index++) {
        if (data [index] < '0' || data [index] > '9')
            return false;
        unsigned digit = (unsigned) (data [index] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *value_p = value;
    return true;
}

//  Check one field value against its spec. On failure, sets *status_p and
//  returns a reason the caller owns; on success returns NULL.
static char *
s_check_field (zpost_field_t field, const char *data, size_t size, int *status_p)
{
    const s_field_spec_t *spec = &s_field_specs [field];
    //  A word or a number that is too long is still just the wrong word or
    //  number: 422, like any other. Only free text is "too large".
    bool sized = spec->type != S_TYPE_ENUM && spec->type != S_TYPE_NUMBER;
    if (sized && size > spec->max_size) {
        *status_p = ZPOST_TOO_LARGE;
        return zsys_sprintf ("%s is longer than %zu bytes", spec->name, spec->max_size);
    }
    *status_p = ZPOST_INVALID_VALUE;
    if (memchr (data, 0, size))
        return zsys_sprintf ("%s contains a NUL byte", spec->name);
    if (!zpost_msg_valid_utf8 (data, size))
        return zsys_sprintf ("%s is not valid UTF-8", spec->name);

    switch (spec->type) {
        case S_TYPE_ENUM:
            for (size_t index = 0; spec->choices [index]; index++)
                if (strlen (spec->choices [index]) == size
                &&  memcmp (spec->choices [index], data, size) == 0)
                    return NULL;
        {
            //  "x must be "a", "b" or "c""
            char words [64] = "";
            for (size_t index = 0; spec->choices [index]; index++) {
                size_t used = strlen (words);
                snprintf (words + used, sizeof words - used, "%s\"%s\"",
                          index == 0? "": spec->choices [index + 1]? ", ": " or ",
                          spec->choices [index]);
            }
            return zsys_sprintf ("%s must be %s", spec->name, words);
        }
        case S_TYPE_NAME:
            if (!s_valid_name (data, size))
                return zsys_sprintf ("%s must be 1 to %d of a-z 0-9 . _ -, "
                                     "starting with a letter or digit",
                                     spec->name, ZPOST_NAME_MAX);
            return NULL;
        case S_TYPE_NAMES: {
            //  Too many names is "too large" whatever the names are
            size_t names = 1;
            for (size_t index = 0; index < size; index++)
                names += data [index] == ',';
            if (names > ZPOST_RECIPIENTS_MAX) {
                *status_p = ZPOST_TOO_LARGE;
                return zsys_sprintf ("%s has more than %d names", spec->name,
                                     ZPOST_RECIPIENTS_MAX);
            }
            size_t start = 0;
            for (size_t index = 0; index <= size; index++)
                if (index == size || data [index] == ',') {
                    if (!s_valid_name (data + start, index - start))
                        return zsys_sprintf ("%s must be usernames separated by "
                                             "commas, without spaces", spec->name);
                    start = index + 1;
                }
            return NULL;
        }
        case S_TYPE_LINE:
            if (memchr (data, '\r', size) || memchr (data, '\n', size))
                return zsys_sprintf ("%s must be one line", spec->name);
            return NULL;
        case S_TYPE_SECRET:
            if (size == 0)
                return zsys_sprintf ("%s must not be empty", spec->name);
            return NULL;
        case S_TYPE_TEXT:
            return NULL;
        case S_TYPE_NUMBER: {
            uint64_t value;
            if (!s_parse_number (data, size, &value))
                return zsys_sprintf ("%s must be a decimal number without sign "
                                     "or leading zeros", spec->name);
            if (value < spec->min_value || value > spec->max_value)
                return zsys_sprintf ("%s must be from %" PRIu64 " to %" PRIu64,
                                     spec->name, spec->min_value, spec->max_value);
            return NULL;
        }
        case S_TYPE_TOKEN:
            if (!s_valid_token (data, size))
                return zsys_sprintf ("%s must be %d lowercase hex digits",
                                     spec->name, ZPOST_TOKEN_SIZE);
            return NULL;
        case S_TYPE_QUERY:
            //  Searched for as given: a control character (a tab, a line
            //  end, an escape) could only match by accident, or not at all
            for (size_t index = 0; index < size; index++)
                if ((unsigned char) data [index] < 0x20 || data [index] == 0x7F)
                    return zsys_sprintf ("%s must not hold control characters",
                                         spec->name);
            if (size < spec->min_value)
                return zsys_sprintf ("%s must be at least %" PRIu64 " bytes",
                                     spec->name, spec->min_value);
            return NULL;
        case S_TYPE_WORD:
            for (size_t index = 0; index < size; index++)
                if (!((data [index] >= 'a' && data [index] <= 'z')
                ||    (data [index] >= '0' && data [index] <= '9')
                ||    data [index] == '-'))
                    return zsys_sprintf ("%s must be of a-z 0-9 -", spec->name);
            if (size == 0 || data [0] < 'a' || data [0] > 'z')
                return zsys_sprintf ("%s must start with a letter", spec->name);
            return NULL;
    }
    return NULL;
}

//  Copy a checked value to a C string; usernames fold to lower case so that
//  every consumer compares one spelling.
static char *
s_copy_value (zpost_field_t field, const char *data, size_t size)
{
    char *value = (char *) malloc (size + 1);
    assert (value);
    memcpy (value, data, size);
    value [size] = 0;
    s_type_t type = s_field_specs [field].type;
    if (type == S_TYPE_NAME || type == S_TYPE_NAMES)
        for (size_t index = 0; index < size; index++)
            if (value [index] >= 'A' && value [index] <= 'Z')
                value [index] = (char) (value [index] - 'A' + 'a');
    return value;
}

static void
s_fail (zpost_msg_t *self, int status, char *reason)
{
    self->status = status;
    zstr_free (&self->reason);
    self->reason = reason;
}

static void
s_add_row_value (zpost_msg_t *self, char *value)
{
    if (self->row_values_count == self->row_values_max) {
        size_t max = self->row_values_max? self->row_values_max * 2: 16;
        char **values = (char **) realloc (self->row_values, max * sizeof (char *));
        assert (values);
        self->row_values = values;
        self->row_values_max = max;
    }
    self->row_values [self->row_values_count++] = value;
}

//  ---------------------------------------------------------------------------
//  Decoding

//  Read signature, command and request id, shared by requests and replies.
//  Returns 0, or -2 with the error recorded.
static int
s_decode_head (zpost_msg_t *self, zframe_t **frames, size_t count, size_t head)
{
    //  Read what can be echoed first, so even a bad request gets an answer
    //  its sender can match.
    if (count >= 2) {
        zframe_t *frame = frames [1];
        for (int command = ZPOST_CMD_NONE + 1; command < ZPOST_CMD_COUNT; command++)
            if (s_frame_is (frame, s_command_specs [command].name))
                self->command = (zpost_command_t) command;
    }
    if (count >= 3) {
        zframe_t *frame = frames [2];
        size_t size = zframe_size (frame);
        //  Judge the frame's bytes, not a C string of them: a NUL inside
        //  would cut the string short and let a bad id through
        const byte *data = zframe_data (frame);
        bool valid = size > 0 && size <= ZPOST_REQUEST_ID_MAX;
        for (size_t index = 0; valid && index < size; index++)
            valid = data [index] >= 0x21 && data [index] <= 0x7E;
        if (valid) {
            memcpy (self->request_id, data, size);
            self->request_id [size] = 0;
        }
    }
    if (count == 0) {
        s_fail (self, ZPOST_MALFORMED, strdup ("the message is empty"));
        return -2;
    }
    if (!s_frame_is (frames [0], ZPOST_MSG_SIGNATURE)) {
        s_fail (self, ZPOST_VERSION_UNSUPPORTED,
                strdup ("the first frame must be the signature \"" ZPOST_MSG_SIGNATURE "\""));
        return -2;
    }
    if (count < head && head == S_REQUEST_HEAD) {
        s_fail (self, ZPOST_MALFORMED,
                zsys_sprintf ("a request has at least %d frames, got %zu", S_REQUEST_HEAD, count));
        return -2;
    }
    //  An error reply may echo an empty command and request id: the request
    //  it answers had none that were valid. The status decides, later.
    bool reply = head == S_REPLY_HEAD;
    if (count < 2 || (self->command == ZPOST_CMD_NONE && !(reply && zframe_size (frames [1]) == 0))) {
        s_fail (self, ZPOST_UNKNOWN_COMMAND,
                strdup ("unknown command: expected PING, REGISTER, LOGIN, LOGOUT, "
                        "SEND, LIST, READ, DELETE, STATS, PASSWD, MARK, UNREGISTER, "
                        "ANSWER, THREAD, LOOKUP, WATCH or SEARCH"));
        return -2;
    }
    if (count < 3 || (self->request_id [0] == 0 && !(reply && zframe_size (frames [2]) == 0))) {
        s_fail (self, ZPOST_MALFORMED,
                zsys_sprintf ("the request id must be 1 to %d visible ASCII characters",
                              ZPOST_REQUEST_ID_MAX));
        return -2;
    }
    if (count < head) {
        s_fail (self, ZPOST_MALFORMED,
                zsys_sprintf ("%s needs at least %zu frames, got %zu",
                              s_command_specs [self->command].name, head, count));
        return -2;
    }
    return 0;
}

//  Check and copy the fixed fields, then any rows. Returns 0 or -2.
static int
s_decode_fields (zpost_msg_t *self, zframe_t **frames, size_t count, size_t first)
{
    const zpost_field_t *fixed = s_fixed_fields (self);
    const zpost_field_t *row = s_row_fields (self);
    size_t fixed_count = s_count (fixed);
    size_t row_width = s_count (row);
    size_t rest = count - first;
    const char *name = s_command_specs [self->command].name;

    //  A row is one frame: its fields joined by NUL bytes, which no field
    //  may hold, so the split is exact
    bool fits;
    if (self->is_reply && self->status != ZPOST_OK)
        fits = rest <= 1;       //  an error reply's detail is optional
    else
    if (row_width == 0)
        fits = rest == fixed_count;
    else
        fits = rest >= fixed_count
            && rest - fixed_count <= s_command_specs [self->command].rows_max;
    if (!fits) {
        s_fail (self, ZPOST_MALFORMED,
                zsys_sprintf ("%s %s has the wrong number of fields (%zu)", name,
                              self->is_reply? "reply": "request", rest));
        return -2;
    }
    for (size_t index = 0; index < rest; index++) {
        zframe_t *frame = frames [first + index];
        const char *data = (const char *) zframe_data (frame);
        size_t size = zframe_size (frame);
        //  A fixed field is the whole frame; a row frame holds row_width
        size_t parts = index < fixed_count? 1: row_width;
        for (size_t part = 0; part < parts; part++) {
            zpost_field_t field = index < fixed_count? fixed [index]: row [part];
            size_t field_size = size;
            if (parts > 1) {
                const char *end = (const char *) memchr (data, 0, size);
                bool last = part + 1 == parts;
                if ((end != NULL) == last) {
                    s_fail (self, ZPOST_MALFORMED,
                            zsys_sprintf ("%s reply row %zu does not have %zu fields",
                                          name, index - fixed_count + 1, row_width));
                    return -2;
                }
                if (end)
                    field_size = (size_t) (end - data);
            }
            int status;
            char *reason = s_check_field (field, data, field_size, &status);
            if (reason) {
                s_fail (self, status, reason);
                self->fault_field = s_field_specs [field].name;
                return -2;
            }
            char *value = s_copy_value (field, data, field_size);
            if (index < fixed_count)
                self->fields [field] = value;
            else
                s_add_row_value (self, value);
            if (parts > 1 && field_size < size) {
                data += field_size + 1;
                size -= field_size + 1;
            }
        }
    }
    return 0;
}

//  Borrow the frames of a message as an array, bounded by max_frames.
//  Returns the count, or SIZE_MAX if there are more than max_frames.
static size_t
s_frame_array (zmsg_t *msg, zframe_t **frames, size_t max_frames)
{
    size_t count = zmsg_size (msg);
    if (count > max_frames)
        return SIZE_MAX;
    zframe_t *frame = zmsg_first (msg);
    for (size_t index = 0; index < count; index++) {
        frames [index] = frame;
        frame = zmsg_next (msg);
    }
    return count;
}

#define S_REQUEST_FRAMES_MAX  (S_REQUEST_HEAD + S_FIELDS_MAX)
#define S_REPLY_FRAMES_MAX    (S_REPLY_HEAD + S_FIELDS_MAX + ZPOST_LIST_MAX)

int
zpost_msg_decode_request (zpost_msg_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    s_reset (self);
    if (!msg) {
        s_fail (self, ZPOST_MALFORMED, strdup ("the message is empty"));
        return -2;
    }
    int rc = -2;
    zframe_t *frames [S_REQUEST_FRAMES_MAX];
    size_t count = s_frame_array (msg, frames, S_REQUEST_FRAMES_MAX);
    if (count == SIZE_MAX) {
        //  Still echo command and request id if they are good
        //  One call per statement: the order of calls inside an
        //  initializer list is unspecified in C
        zframe_t *head [3];
        head [0] = zmsg_first (msg);
        head [1] = zmsg_next (msg);
        head [2] = zmsg_next (msg);
        if (s_decode_head (self, head, 3, 3) == 0)
            s_fail (self, ZPOST_MALFORMED,
                    zsys_sprintf ("the request has too many frames (%zu)", zmsg_size (msg)));
        goto done;
    }
    if (s_decode_head (self, frames, count, S_REQUEST_HEAD))
        goto done;
    {
        zframe_t *frame = frames [3];
        size_t size = zframe_size (frame);
        if (size != 0 && !s_valid_token ((const char *) zframe_data (frame), size)) {
            s_fail (self, ZPOST_MALFORMED,
                    zsys_sprintf ("the token must be empty or %d lowercase hex digits",
                                  ZPOST_TOKEN_SIZE));
            goto done;
        }
        memcpy (self->token, zframe_data (frame), size);
        self->token [size] = 0;
    }
    if (s_decode_fields (self, frames, count, S_REQUEST_HEAD))
        goto done;
    self->status = 0;
    rc = 0;
done:
    s_destroy_frames (&msg);
    return rc;
}

int
zpost_msg_decode_reply (zpost_msg_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    s_reset (self);
    self->is_reply = true;
    if (!msg) {
        s_fail (self, ZPOST_MALFORMED, strdup ("the message is empty"));
        return -2;
    }
    int rc = -2;
    zframe_t **frames = NULL;
    size_t count = zmsg_size (msg);
    if (count > S_REPLY_FRAMES_MAX) {
        s_fail (self, ZPOST_MALFORMED, zsys_sprintf ("the reply has too many frames (%zu)", count));
        goto done;
    }
    frames = (zframe_t **) malloc ((count + 1) * sizeof (zframe_t *));
    assert (frames);
    s_frame_array (msg, frames, count);
    if (s_decode_head (self, frames, count, S_REPLY_HEAD))
        goto done;
    {
        zframe_t *frame = frames [3];
        uint64_t status;
        if (zframe_size (frame) != 3
        ||  !s_parse_number ((const char *) zframe_data (frame), 3, &status)
        ||  status < 100) {
            s_fail (self, ZPOST_MALFORMED, strdup ("the status must be three digits"));
            goto done;
        }
        frame = frames [4];
        size_t size = zframe_size (frame);
        const char *data = (const char *) zframe_data (frame);
        if (size > ZPOST_REASON_MAX || memchr (data, 0, size)
        ||  !zpost_msg_valid_utf8 (data, size)
        ||  memchr (data, '\r', size) || memchr (data, '\n', size)) {
            s_fail (self, ZPOST_MALFORMED, strdup ("the reason must be one line of UTF-8"));
            goto done;
        }
        if (status == ZPOST_OK
        && (self->command == ZPOST_CMD_NONE || self->request_id [0] == 0)) {
            s_fail (self, ZPOST_MALFORMED,
                    strdup ("a successful reply must name its command and request id"));
            goto done;
        }
        self->status = (int) status;
        self->reason = (char *) malloc (size + 1);
        assert (self->reason);
        memcpy (self->reason, data, size);
        self->reason [size] = 0;
    }
    {
        //  A bad field must not be mistaken for the server's own status
        int status = self->status;
        char *reason = self->reason;
        self->reason = NULL;
        if (s_decode_fields (self, frames, count, S_REPLY_HEAD)) {
            zstr_free (&reason);
            goto done;
        }
        self->status = status;
        self->reason = reason;
    }
    rc = 0;
done:
    free (frames);
    s_destroy_frames (&msg);
    return rc;
}

//  Pull the routing id and the empty delimiter off a ROUTER's message.
//  Returns 0, or -2 if the envelope is not what a REQ or DEALER peer sends.
static int
s_take_envelope (zpost_msg_t *self, zmsg_t *msg)
{
    zframe_destroy (&self->routing_id);
    self->routing_id = zmsg_pop (msg);
    if (!self->routing_id)
        return -2;
    zframe_t *delimiter = zmsg_pop (msg);
    int rc = delimiter && zframe_size (delimiter) == 0? 0: -2;
    zframe_destroy (&delimiter);
    return rc;
}

int
zpost_msg_recv_request (zpost_msg_t *self, zsock_t *input)
{
    assert (self);
    assert (input);
    zmsg_t *msg = zmsg_recv (input);
    if (!msg)
        return -1;
    s_reset (self);
    if (zsock_type (input) == ZMQ_ROUTER && s_take_envelope (self, msg)) {
        //  Not a REQ or DEALER peer speaking ZPOST: any reply would be
        //  misread, so the spec says to drop it unanswered.
        s_destroy_frames (&msg);
        return -1;
    }
    //  The ZAP handler put the client's key in the User-Id property of every
    //  frame the connection delivers; the client's own frames cannot set it.
    char client_key [ZPOST_KEY_TEXT_SIZE + 1] = "";
    zframe_t *first = zmsg_first (msg);
    if (first) {
        const char *user_id = zframe_meta (first, "User-Id");
        if (user_id && strlen (user_id) == ZPOST_KEY_TEXT_SIZE)
            strcpy (client_key, user_id);
    }
    int rc = zpost_msg_decode_request (self, &msg);
    strcpy (self->client_key, client_key);
    return rc;
}

int
zpost_msg_recv_reply (zpost_msg_t *self, zsock_t *input)
{
    assert (self);
    assert (input);
    zmsg_t *msg = zmsg_recv (input);
    if (!msg)
        return -1;
    if (zsock_type (input) == ZMQ_DEALER) {
        zframe_t *delimiter = zmsg_pop (msg);
        bool empty = delimiter && zframe_size (delimiter) == 0;
        zframe_destroy (&delimiter);
        if (!empty) {
            s_destroy_frames (&msg);
            s_reset (self);
            s_fail (self, ZPOST_MALFORMED, strdup ("a reply must start with an empty delimiter"));
            return -2;
        }
    }
    return zpost_msg_decode_reply (self, &msg);
}

//  ---------------------------------------------------------------------------
//  Encoding

zmsg_t *
zpost_msg_encode (zpost_msg_t *self)
{
    assert (self);
    assert (self->command != ZPOST_CMD_NONE || self->is_reply);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, ZPOST_MSG_SIGNATURE);
    zmsg_addstr (msg, s_command_specs [self->command].name);
    zmsg_addstr (msg, self->request_id);
    if (self->is_reply) {
        char status [16];
        snprintf (status, sizeof status, "%03d", self->status);
        zmsg_addstr (msg, status);
        zmsg_addstr (msg, self->reason? self->reason: "");
    }
    else
        zmsg_addstr (msg, self->token);

    const zpost_field_t *fixed = s_fixed_fields (self);
    for (size_t index = 0; fixed [index] != S_END; index++) {
        const char *value = self->fields [fixed [index]];
        if (!value) {
            //  An error reply's detail is optional; every other field is not
            if (self->is_reply && self->status != ZPOST_OK)
                continue;
            s_destroy_frames (&msg);
            return NULL;
        }
        zmsg_addstr (msg, value);
    }
    size_t width = s_count (s_row_fields (self));
    for (size_t first = 0; width && first < self->row_values_count; first += width) {
        size_t size = 0;
        for (size_t column = 0; column < width; column++)
            size += strlen (self->row_values [first + column]) + 1;
        zframe_t *frame = zframe_new (NULL, size - 1);
        assert (frame);
        char *out = (char *) zframe_data (frame);
        for (size_t column = 0; column < width; column++) {
            size_t length = strlen (self->row_values [first + column]);
            memcpy (out, self->row_values [first + column], length);
            out += length;
            if (column + 1 < width)
                *out++ = 0;
        }
        zmsg_append (msg, &frame);
    }
    return msg;
}

int
zpost_msg_send_encoded (zmsg_t **content_p, zsock_t *router, zframe_t *routing_id)
{
    assert (content_p);
    assert (router);
    zmsg_t *content = *content_p;
    *content_p = NULL;
    if (!content || !routing_id) {
        s_destroy_frames (&content);
        return -1;
    }
    zmsg_pushmem (content, NULL, 0);
    zframe_t *copy = zframe_dup (routing_id);
    zmsg_prepend (content, &copy);
    if (zmsg_send (&content, router)) {
        s_destroy_frames (&content);
        return -1;
    }
    return 0;
}

int
zpost_msg_send (zpost_msg_t *self, zsock_t *output)
{
    assert (self);
    assert (output);
    zmsg_t *msg = zpost_msg_encode (self);
    if (!msg)
        return -1;
    int type = zsock_type (output);
    if (type == ZMQ_ROUTER)
        return zpost_msg_send_encoded (&msg, output, self->routing_id);
    if (type == ZMQ_DEALER)
        zmsg_pushmem (msg, NULL, 0);
    //  Sent frames are libzmq's to free, unwiped: see the header
    if (zmsg_send (&msg, output)) {
        s_destroy_frames (&msg);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Accessors

zframe_t *
zpost_msg_routing_id (zpost_msg_t *self)
{
    assert (self);
    return self->routing_id;
}

void
zpost_msg_set_routing_id (zpost_msg_t *self, zframe_t *routing_id)
{
    assert (self);
    zframe_destroy (&self->routing_id);
    if (routing_id)
        self->routing_id = zframe_dup (routing_id);
}

const char *
zpost_msg_client_key (zpost_msg_t *self)
{
    assert (self);
    return self->client_key;
}

void
zpost_msg_set_client_key (zpost_msg_t *self, const char *client_key)
{
    assert (self);
    self->client_key [0] = 0;
    if (client_key && strlen (client_key) == ZPOST_KEY_TEXT_SIZE)
        strcpy (self->client_key, client_key);
}

zpost_command_t
zpost_msg_command (zpost_msg_t *self)
{
    assert (self);
    return self->command;
}

const char *
zpost_msg_request_id (zpost_msg_t *self)
{
    assert (self);
    return self->request_id;
}

const char *
zpost_msg_token (zpost_msg_t *self)
{
    assert (self);
    return self->token;
}

bool
zpost_msg_is_reply (zpost_msg_t *self)
{
    assert (self);
    return self->is_reply;
}

int
zpost_msg_status (zpost_msg_t *self)
{
    assert (self);
    return self->status;
}

const char *
zpost_msg_reason (zpost_msg_t *self)
{
    assert (self);
    return self->reason? self->reason: "";
}

const char *
zpost_msg_get (zpost_msg_t *self, zpost_field_t field)
{
    assert (self);
    assert (field < ZPOST_F_COUNT);
    return self->fields [field];
}

uint64_t
zpost_msg_get_number (zpost_msg_t *self, zpost_field_t field)
{
    const char *value = zpost_msg_get (self, field);
    uint64_t number = 0;
    if (value && !s_parse_number (value, strlen (value), &number))
        number = 0;
    return number;
}

static bool
s_has_field (const zpost_field_t *list, zpost_field_t field)
{
    for (size_t index = 0; list [index] != S_END; index++)
        if (list [index] == field)
            return true;
    return false;
}

void
zpost_msg_set (zpost_msg_t *self, zpost_field_t field, const char *value)
{
    assert (self);
    assert (value);
    assert (field < ZPOST_F_COUNT);
    assert (s_has_field (s_fixed_fields (self), field));
    s_free_value (self, field);
    self->fields [field] = strdup (value);
    assert (self->fields [field]);
}

void
zpost_msg_set_number (zpost_msg_t *self, zpost_field_t field, uint64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%" PRIu64, value);
    zpost_msg_set (self, field, text);
}

size_t
zpost_msg_rows (zpost_msg_t *self)
{
    assert (self);
    size_t width = s_count (s_row_fields (self));
    return width? self->row_values_count / width: 0;
}

const char *
zpost_msg_row_get (zpost_msg_t *self, size_t row, zpost_field_t field)
{
    assert (self);
    const zpost_field_t *fields = s_row_fields (self);
    size_t width = s_count (fields);
    if (row >= zpost_msg_rows (self))
        return NULL;
    for (size_t column = 0; column < width; column++)
        if (fields [column] == field)
            return self->row_values [row * width + column];
    return NULL;
}

void
zpost_msg_add_row (zpost_msg_t *self, const char **values)
{
    assert (self);
    assert (values);
    size_t width = s_count (s_row_fields (self));
    assert (width > 0);
    for (size_t column = 0; column < width; column++) {
        assert (values [column]);
        char *value = strdup (values [column]);
        assert (value);
        s_add_row_value (self, value);
    }
}

unsigned
zpost_command_flags (zpost_command_t command)
{
    assert (command < ZPOST_CMD_COUNT);
    return s_command_specs [command].flags;
}

const char *
zpost_msg_command_name (zpost_command_t command)
{
    assert (command < ZPOST_CMD_COUNT);
    return s_command_specs [command].name;
}

zpost_command_t
zpost_msg_command_from_name (const char *name)
{
    for (int command = ZPOST_CMD_NONE + 1; command < ZPOST_CMD_COUNT; command++)
        if (name && streq (name, s_command_specs [command].name))
            return (zpost_command_t) command;
    return ZPOST_CMD_NONE;
}

const char *
zpost_msg_field_name (zpost_field_t field)
{
    assert (field < ZPOST_F_COUNT);
    return s_field_specs [field].name;
}

bool
zpost_msg_field_secret (zpost_field_t field)
{
    assert (field < ZPOST_F_COUNT);
    return s_field_specs [field].type == S_TYPE_SECRET
        || s_field_specs [field].type == S_TYPE_TOKEN;
}

//  ---------------------------------------------------------------------------
//  Selftest

//  Build a message from a NULL-terminated list of strings.
static zmsg_t *
s_frames (const char *first, ...)
{
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, first);
    for (const char *text = first; text; text = va_arg (args, const char *))
        zmsg_addstr (msg, text);
    va_end (args);
    return msg;
}

static int
s_decode_request_frames (zpost_msg_t *msg, zmsg_t *frames)
{
    return zpost_msg_decode_request (msg, &frames);
}

//  Round-trip a message through encode and decode and return the copy.
static zpost_msg_t *
s_round_trip (zpost_msg_t *self)
{
    zmsg_t *frames = zpost_msg_encode (self);
    assert (frames);
    zpost_msg_t *copy = zpost_msg_new ();
    int rc = self->is_reply? zpost_msg_decode_reply (copy, &frames)
                           : zpost_msg_decode_request (copy, &frames);
    if (rc)
        zsys_error ("round trip failed: %d %s", zpost_msg_status (copy),
                    zpost_msg_reason (copy));
    assert (rc == 0);
    assert (frames == NULL);
    assert (copy->command == self->command);
    assert (streq (copy->request_id, self->request_id));
    assert (copy->is_reply == self->is_reply);
    if (self->is_reply) {
        assert (copy->status == self->status);
        assert (streq (copy->reason, self->reason));
    }
    else
        assert (streq (copy->token, self->token));
    for (size_t index = 0; index < ZPOST_F_COUNT; index++)
        if (self->fields [index])
            assert (copy->fields [index] && streq (copy->fields [index], self->fields [index]));
        else
            assert (!copy->fields [index]);
    assert (copy->row_values_count == self->row_values_count);
    for (size_t index = 0; index < self->row_values_count; index++)
        assert (streq (copy->row_values [index], self->row_values [index]));
    return copy;
}

static void
s_expect_request_error (zmsg_t *frames, int status, const char *echo_command,
                        const char *echo_id)
{
    zpost_msg_t *msg = zpost_msg_new ();
    int rc = s_decode_request_frames (msg, frames);
    if (rc != -2 || zpost_msg_status (msg) != status)
        zsys_error ("expected %d, got rc=%d status=%d (%s)", status, rc,
                    zpost_msg_status (msg), zpost_msg_reason (msg));
    assert (rc == -2);
    assert (zpost_msg_status (msg) == status);
    assert (strlen (zpost_msg_reason (msg)) > 0);
    //  The error reply must itself encode, and echo what was valid
    zpost_msg_t *reply = zpost_msg_new_reply (msg, zpost_msg_status (msg),
                                              zpost_msg_reason (msg));
    if (status == ZPOST_TOO_LARGE || status == ZPOST_INVALID_VALUE)
        assert (zpost_msg_get (reply, ZPOST_F_DETAIL));
    zmsg_t *encoded = zpost_msg_encode (reply);
    assert (encoded);
    zframe_t *frame = zmsg_first (encoded);
    assert (zframe_streq (frame, ZPOST_MSG_SIGNATURE));
    frame = zmsg_next (encoded);
    assert (zframe_streq (frame, echo_command));
    frame = zmsg_next (encoded);
    assert (zframe_streq (frame, echo_id));
    zmsg_destroy (&encoded);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&msg);
}

//  A second UTF-8 check, written another way, to judge the codec's by:
//  decode each sequence to its code point by the bit patterns, then refuse
//  what is longer than it needs to be, a surrogate, or past U+10FFFF.
static bool
s_reference_utf8 (const unsigned char *bytes, size_t size)
{
    size_t index = 0;
    while (index < size) {
        uint32_t point = bytes [index];
        size_t length;
        uint32_t least;
        if ((point & 0x80) == 0) {
            length = 1;
            least = 0;
        }
        else
        if ((point & 0xE0) == 0xC0) {
            length = 2;
            least = 0x80;
            point &= 0x1F;
        }
        else
        if ((point & 0xF0) == 0xE0) {
            length = 3;
            least = 0x800;
            point &= 0x0F;
        }
        else
        if ((point & 0xF8) == 0xF0) {
            length = 4;
            least = 0x10000;
            point &= 0x07;
        }
        else
            return false;
        if (index + length > size)
            return false;
        for (size_t next = 1; next < length; next++) {
            if ((bytes [index + next] & 0xC0) != 0x80)
                return false;
            point = (point << 6) | (bytes [index + next] & 0x3F);
        }
        if (point < least || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
            return false;
        index += length;
    }
    return true;
}

static bool
s_utf8_agrees (const unsigned char *bytes, size_t size)
{
    bool codec = zpost_msg_valid_utf8 ((const char *) bytes, size);
    bool reference = s_reference_utf8 (bytes, size);
    if (codec != reference) {
        char hex [16] = "";
        for (size_t index = 0; index < size; index++)
            snprintf (hex + 3 * index, sizeof hex - 3 * index, "%02X ", bytes [index]);
        zsys_error ("UTF-8 check: %s: codec says %s, reference says %s", hex,
                    codec? "valid": "invalid", reference? "valid": "invalid");
    }
    return codec == reference;
}

//  Every sequence of 1, 2 and 3 bytes; for 4 bytes, every second and third
//  byte under each 4-byte lead (F0..F4) and a sample of other leads, with
//  the fourth byte at the edges of its classes.
static void
s_test_utf8_exhaustive (void)
{
    unsigned char bytes [4];
    size_t valid = 0;
    for (unsigned value = 0; value < 0x100; value++) {
        bytes [0] = (unsigned char) value;
        assert (s_utf8_agrees (bytes, 1));
    }
    for (unsigned value = 0; value < 0x10000; value++) {
        bytes [0] = (unsigned char) (value >> 8);
        bytes [1] = (unsigned char) value;
        assert (s_utf8_agrees (bytes, 2));
    }
    for (unsigned value = 0; value < 0x1000000; value++) {
        bytes [0] = (unsigned char) (value >> 16);
        bytes [1] = (unsigned char) (value >> 8);
        bytes [2] = (unsigned char) value;
        if (!s_utf8_agrees (bytes, 3))
            assert (false);
        valid += zpost_msg_valid_utf8 ((const char *) bytes, 3);
    }
    //  ASCII x3, a 2-byte character and ASCII either way round, and the
    //  61,440 three-byte characters: if this count is off, the reference is
    assert (valid == 128 * 128 * 128 + 2 * 1920 * 128 + (0x10000 - 0x800 - 0x800));

    static const unsigned char leads [] = {
        0xF0, 0xF1, 0xF2, 0xF3, 0xF4,
        0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
        0xE0, 0xED, 0xEF, 0xF5, 0xF7, 0xF8, 0xFB, 0xFE, 0xFF
    };
    static const unsigned char fourths [] = {
        0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xF4, 0xFF
    };
    valid = 0;
    for (size_t lead = 0; lead < sizeof leads; lead++)
        for (unsigned middle = 0; middle < 0x10000; middle++)
            for (size_t fourth = 0; fourth < sizeof fourths; fourth++) {
                bytes [0] = leads [lead];
                bytes [1] = (unsigned char) (middle >> 8);
                bytes [2] = (unsigned char) middle;
                bytes [3] = fourths [fourth];
                if (!s_utf8_agrees (bytes, 4))
                    assert (false);
                if (lead < 5)
                    valid += zpost_msg_valid_utf8 ((const char *) bytes, 4);
            }
    //  Under F0..F4 only whole 4-byte characters are valid: U+10000 to
    //  U+10FFFF, of which 4 in 64 have a fourth byte in the sample
    assert (valid == 0x100000 / 16);
}

//  The free hook for the selftest: counts buffers about to be freed and
//  those that still hold the secret
static size_t s_hook_calls;
static size_t s_hook_leaks;
static const char *s_hook_secret;

static void
s_test_free_hook (const void *data, size_t size)
{
    s_hook_calls++;
    size_t secret = strlen (s_hook_secret);
    for (size_t index = 0; index + secret <= size; index++)
        if (memcmp ((const byte *) data + index, s_hook_secret, secret) == 0) {
            s_hook_leaks++;
            break;
        }
}

//  Run one decode, and expect frees of wiped buffers only
static void
s_expect_wiped_decode (zmsg_t *frames, int expect_rc, size_t expect_frees)
{
    size_t calls = s_hook_calls;
    zpost_msg_t *msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg, frames) == expect_rc);
    zpost_msg_destroy (&msg);
    assert (s_hook_calls - calls >= expect_frees);
    assert (s_hook_leaks == 0);
}

static bool
s_all_zero (zframe_t *frame)
{
    for (size_t index = 0; index < zframe_size (frame); index++)
        if (zframe_data (frame) [index])
            return false;
    return true;
}

static void
s_test_wipes (void)
{
    const char *secret = "correct horse battery";
    s_hook_secret = secret;
    s_hook_calls = s_hook_leaks = 0;
    s_free_hook = s_test_free_hook;

    //  A decoded request: its frames, then its value, replaced or destroyed
    zpost_msg_t *msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg,
        s_frames ("ZPOST1", "LOGIN", "r", "", "alice", secret, NULL)) == 0);
    assert (s_hook_calls == 6 && s_hook_leaks == 0);
    assert (streq (zpost_msg_get (msg, ZPOST_F_PASSWORD), secret));
    zpost_msg_set (msg, ZPOST_F_PASSWORD, "another one");
    assert (s_hook_calls == 7 && s_hook_leaks == 0);
    zpost_msg_set (msg, ZPOST_F_PASSWORD, secret);
    assert (s_hook_calls == 8);
    zpost_msg_destroy (&msg);
    assert (s_hook_calls == 9 && s_hook_leaks == 0);

    //  Malformed: too many frames, a bad later field, an unknown command,
    //  a password where the request id goes, no signature
    s_expect_wiped_decode (s_frames ("ZPOST1", "LOGIN", "r", "", "alice", secret,
                                     secret, NULL), -2, 7);
    s_expect_wiped_decode (s_frames ("ZPOST1", "PASSWD", "r", "", secret, "", NULL), -2, 7);
    s_expect_wiped_decode (s_frames ("ZPOST1", "LOGON", "r", "", "alice", secret, NULL),
                           -2, 6);
    s_expect_wiped_decode (s_frames ("ZPOST1", "LOGIN", secret, NULL), -2, 3);
    s_expect_wiped_decode (s_frames ("ZPOST2", "LOGIN", "r", "", "alice", secret, NULL),
                           -2, 6);

    //  An encoding the codec gives up on: PASSWD without its new password
    msg = zpost_msg_new_request (ZPOST_CMD_PASSWD, "r", NULL);
    zpost_msg_set (msg, ZPOST_F_PASSWORD, secret);
    size_t calls = s_hook_calls;
    assert (zpost_msg_encode (msg) == NULL);
    assert (s_hook_calls - calls == 5 && s_hook_leaks == 0);

    //  The same, whole, encoded for a caller, behind a ROUTER envelope:
    //  zpost_msg_wipe_frames clears what follows the command frame only
    zpost_msg_set (msg, ZPOST_F_NEW_PASSWORD, "battery staple");
    zmsg_t *frames = zpost_msg_encode (msg);
    assert (frames);
    zmsg_pushstr (frames, "");
    zmsg_pushstr (frames, "peer");
    assert (zpost_msg_wipe_frames (frames) == 3);  //  id, password, new password
    zframe_t *frame = zmsg_first (frames);
    assert (zframe_streq (frame, "peer"));
    assert (zframe_streq (zmsg_next (frames), ""));
    assert (zframe_streq (zmsg_next (frames), ZPOST_MSG_SIGNATURE));
    assert (zframe_streq (zmsg_next (frames), "PASSWD"));
    for (frame = zmsg_next (frames); frame; frame = zmsg_next (frames))
        assert (s_all_zero (frame));
    zmsg_destroy (&frames);
    zpost_msg_destroy (&msg);

    //  A command without a password is left as it is
    msg = zpost_msg_new_request (ZPOST_CMD_SEND, "r", NULL);
    zpost_msg_set (msg, ZPOST_F_RECIPIENTS, "bob");
    zpost_msg_set (msg, ZPOST_F_SUBJECT, "hi");
    zpost_msg_set (msg, ZPOST_F_BODY, "text");
    frames = zpost_msg_encode (msg);
    assert (zpost_msg_wipe_frames (frames) == 0);
    assert (zframe_streq (zmsg_last (frames), "text"));
    zmsg_destroy (&frames);
    zpost_msg_destroy (&msg);
    frames = s_frames ("hello", secret, NULL);
    assert (zpost_msg_wipe_frames (frames) == 2);
    assert (s_all_zero (zmsg_last (frames)));
    zmsg_destroy (&frames);
    assert (zpost_msg_wipe_frames (NULL) == 0);

    s_free_hook = NULL;
}

void
zpost_msg_test (bool verbose)
{
    if (verbose)
        printf (" * zpost_msg: ");

    //  Passwords and tokens are the secrets a log must not show
    assert (zpost_msg_field_secret (ZPOST_F_PASSWORD));
    assert (zpost_msg_field_secret (ZPOST_F_NEW_PASSWORD));
    assert (zpost_msg_field_secret (ZPOST_F_TOKEN));
    assert (!zpost_msg_field_secret (ZPOST_F_SUBJECT));
    assert (!zpost_msg_field_secret (ZPOST_F_USERNAME));

    //  Round trip of every request and every successful reply
    const char *token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (int command = ZPOST_CMD_NONE + 1; command < ZPOST_CMD_COUNT; command++) {
        zpost_msg_t *request = zpost_msg_new_request ((zpost_command_t) command, "req-1", token);
        const zpost_field_t *fields = s_command_specs [command].request;
        static const char *samples [ZPOST_F_COUNT] = {
            [ZPOST_F_TARGET] = "store", [ZPOST_F_USERNAME] = "alice",
            [ZPOST_F_PASSWORD] = "correct horse", [ZPOST_F_NEW_PASSWORD] = "battery staple",
            [ZPOST_F_RECIPIENTS] = "bob,carol", [ZPOST_F_SUBJECT] = "h\xc3\xa9llo \x1b[31m",
            [ZPOST_F_BODY] = "line one\nline two\n", [ZPOST_F_FOLDER] = "sent",
            [ZPOST_F_FILTER] = "unread", [ZPOST_F_LIMIT] = "50", [ZPOST_F_BEFORE] = "0",
            [ZPOST_F_MESSAGE_ID] = "18446744073709551615", [ZPOST_F_SCOPE] = "server",
            [ZPOST_F_SERVER_VERSION] = "zpost 0.1.0", [ZPOST_F_ANSWERED_BY] = "broker",
            [ZPOST_F_TOKEN] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            [ZPOST_F_EXPIRES] = "1800000000", [ZPOST_F_FROM] = "alice",
            [ZPOST_F_TO] = "bob", [ZPOST_F_DATE] = "1790000000", [ZPOST_F_SIZE] = "0",
            [ZPOST_F_SEEN] = "1", [ZPOST_F_STAT_NAME] = "inbox-count",
            [ZPOST_F_STAT_VALUE] = "42", [ZPOST_F_DETAIL] = "bob,carol",
            [ZPOST_F_FLAG] = "unflagged", [ZPOST_F_IN_REPLY_TO] = "7",
            [ZPOST_F_THREAD_ID] = "3", [ZPOST_F_FLAGGED] = "1",
            [ZPOST_F_SINCE] = "41", [ZPOST_F_UNREAD] = "2", [ZPOST_F_TIMEOUT] = "60",
            [ZPOST_F_WITHIN] = "subject", [ZPOST_F_QUERY] = "H\xc3\xa9llo w%_",
        };
        for (size_t index = 0; fields [index] != S_END; index++)
            zpost_msg_set (request, fields [index], samples [fields [index]]);
        zpost_msg_t *copy = s_round_trip (request);
        zpost_msg_destroy (&copy);

        zpost_msg_t *reply = zpost_msg_new_reply (request, ZPOST_OK, NULL);
        fields = s_command_specs [command].reply;
        for (size_t index = 0; fields [index] != S_END; index++)
            zpost_msg_set (reply, fields [index], samples [fields [index]]);
        const zpost_field_t *row = s_command_specs [command].row;
        if (row [0] != S_END) {
            const char *values [S_FIELDS_MAX];
            for (size_t index = 0; row [index] != S_END; index++)
                values [index] = samples [row [index]];
            zpost_msg_add_row (reply, values);
            zpost_msg_add_row (reply, values);
            assert (zpost_msg_rows (reply) == 2);
        }
        copy = s_round_trip (reply);
        if (row [0] != S_END) {
            assert (zpost_msg_rows (copy) == 2);
            assert (streq (zpost_msg_row_get (copy, 1, row [0]), samples [row [0]]));
            assert (zpost_msg_row_get (copy, 2, row [0]) == NULL);
        }
        zpost_msg_destroy (&copy);
        zpost_msg_destroy (&reply);

        //  An error reply, with and without detail
        reply = zpost_msg_new_reply (request, ZPOST_UNKNOWN_RECIPIENT, NULL);
        copy = s_round_trip (reply);
        zpost_msg_destroy (&copy);
        zpost_msg_set (reply, ZPOST_F_DETAIL, "bob,carol");
        copy = s_round_trip (reply);
        assert (streq (zpost_msg_get (copy, ZPOST_F_DETAIL), "bob,carol"));
        zpost_msg_destroy (&copy);
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&request);
    }

    //  A request missing a field does not encode
    zpost_msg_t *incomplete = zpost_msg_new_request (ZPOST_CMD_SEND, "x", NULL);
    zpost_msg_set (incomplete, ZPOST_F_RECIPIENTS, "bob");
    assert (zpost_msg_encode (incomplete) == NULL);
    zpost_msg_destroy (&incomplete);

    //  Usernames fold to lower case; getters give numbers
    zpost_msg_t *msg = zpost_msg_new ();
    int rc = s_decode_request_frames (msg,
        s_frames ("ZPOST1", "SEND", "r1", "", "Bob,CAROL", "hi", "body", NULL));
    assert (rc == 0);
    assert (zpost_msg_command (msg) == ZPOST_CMD_SEND);
    assert (streq (zpost_msg_get (msg, ZPOST_F_RECIPIENTS), "bob,carol"));
    assert (zpost_msg_get (msg, ZPOST_F_USERNAME) == NULL);
    rc = s_decode_request_frames (msg,
        s_frames ("ZPOST1", "LIST", "r2", token, "inbox", "all", "1000", "12345", NULL));
    assert (rc == 0);
    assert (zpost_msg_get_number (msg, ZPOST_F_LIMIT) == 1000);
    assert (zpost_msg_get_number (msg, ZPOST_F_BEFORE) == 12345);
    assert (streq (zpost_msg_token (msg), token));
    zpost_msg_destroy (&msg);

    //  Rejections: each with its status, echoing what was valid
    zmsg_t *frames;
    s_expect_request_error (zmsg_new (), ZPOST_MALFORMED, "", "");
    s_expect_request_error (s_frames ("ZPOST2", "PING", "r", "", "store", NULL),
                            ZPOST_VERSION_UNSUPPORTED, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "FETCH", "r", "", NULL),
                            ZPOST_UNKNOWN_COMMAND, "", "r");
    s_expect_request_error (s_frames ("ZPOST1", "ping", "r", "", "store", NULL),
                            ZPOST_UNKNOWN_COMMAND, "", "r");
    s_expect_request_error (s_frames ("ZPOST1", NULL), ZPOST_MALFORMED, "", "");
    s_expect_request_error (s_frames ("ZPOST1", "PING", NULL), ZPOST_MALFORMED, "PING", "");
    s_expect_request_error (s_frames ("ZPOST1", "NOPE", "r", NULL), ZPOST_MALFORMED, "", "r");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "", "", "store", NULL),
                            ZPOST_MALFORMED, "PING", "");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "a b", "", "store", NULL),
                            ZPOST_MALFORMED, "PING", "");
    frames = s_frames ("ZPOST1", "PING", NULL);
    zmsg_addmem (frames, "id\0x", 4);
    zmsg_addstr (frames, "");
    zmsg_addstr (frames, "store");
    s_expect_request_error (frames, ZPOST_MALFORMED, "PING", "");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "r", NULL),
                            ZPOST_MALFORMED, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "r", "", NULL),
                            ZPOST_MALFORMED, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "r", "", "store", "extra", NULL),
                            ZPOST_MALFORMED, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "r", "", "moon", NULL),
                            ZPOST_INVALID_VALUE, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "PING", "r", "nottoken", "store", NULL),
                            ZPOST_MALFORMED, "PING", "r");
    s_expect_request_error (s_frames ("ZPOST1", "REGISTER", "r", "", "-bob", "password", NULL),
                            ZPOST_INVALID_VALUE, "REGISTER", "r");
    s_expect_request_error (s_frames ("ZPOST1", "REGISTER", "r", "", "bo b", "password", NULL),
                            ZPOST_INVALID_VALUE, "REGISTER", "r");
    s_expect_request_error (s_frames ("ZPOST1", "REGISTER", "r", "",
                                      "abcdefghijklmnopqrstuvwxyz0123456", "password", NULL),
                            ZPOST_TOO_LARGE, "REGISTER", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEND", "r", "", "bob,", "s", "b", NULL),
                            ZPOST_INVALID_VALUE, "SEND", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEND", "r", "", "bob", "two\nlines", "b", NULL),
                            ZPOST_INVALID_VALUE, "SEND", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEND", "r", "", "bob", "s", "\xc3\x28", NULL),
                            ZPOST_INVALID_VALUE, "SEND", "r");
    s_expect_request_error (s_frames ("ZPOST1", "LIST", "r", "", "inbox", "all", "0", "0", NULL),
                            ZPOST_INVALID_VALUE, "LIST", "r");
    s_expect_request_error (s_frames ("ZPOST1", "LIST", "r", "", "inbox", "all", "1001", "0", NULL),
                            ZPOST_INVALID_VALUE, "LIST", "r");
    s_expect_request_error (s_frames ("ZPOST1", "LIST", "r", "", "inbox", "all", "01", "0", NULL),
                            ZPOST_INVALID_VALUE, "LIST", "r");
    s_expect_request_error (s_frames ("ZPOST1", "READ", "r", "", "18446744073709551616", NULL),
                            ZPOST_INVALID_VALUE, "READ", "r");
    s_expect_request_error (s_frames ("ZPOST1", "READ", "r", "", "184467440737095516160000", NULL),
                            ZPOST_INVALID_VALUE, "READ", "r");
    s_expect_request_error (s_frames ("ZPOST1", "STATS", "r", "", "everything", NULL),
                            ZPOST_INVALID_VALUE, "STATS", "r");
    s_expect_request_error (s_frames ("ZPOST1", "READ", "r", "", "-1", NULL),
                            ZPOST_INVALID_VALUE, "READ", "r");
    s_expect_request_error (s_frames ("ZPOST1", "LOGIN", "r", "", "bob", "", NULL),
                            ZPOST_INVALID_VALUE, "LOGIN", "r");
    msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg, s_frames ("ZPOST1", "READ", "r", "", "0", NULL)) == 0);
    zpost_msg_destroy (&msg);

    //  A subject one byte over, a NUL in a name, too many recipients
    char subject [ZPOST_SUBJECT_MAX + 2];
    memset (subject, 'x', sizeof subject - 1);
    subject [sizeof subject - 1] = 0;
    s_expect_request_error (s_frames ("ZPOST1", "SEND", "r", "", "bob", subject, "b", NULL),
                            ZPOST_TOO_LARGE, "SEND", "r");
    subject [ZPOST_SUBJECT_MAX] = 0;
    msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg,
        s_frames ("ZPOST1", "SEND", "r", "", "bob", subject, "b", NULL)) == 0);
    zpost_msg_destroy (&msg);

    frames = s_frames ("ZPOST1", "LOGIN", "r", "", NULL);
    zmsg_addmem (frames, "bob\0x", 5);
    zmsg_addstr (frames, "password");
    s_expect_request_error (frames, ZPOST_INVALID_VALUE, "LOGIN", "r");

    char *names = (char *) zmalloc (ZPOST_RECIPIENTS_MAX * 4 + 8);
    for (int index = 0; index <= ZPOST_RECIPIENTS_MAX; index++)
        strcat (names, index? ",u": "u");
    s_expect_request_error (s_frames ("ZPOST1", "SEND", "r", "", names, "s", "b", NULL),
                            ZPOST_TOO_LARGE, "SEND", "r");
    free (names);

    //  SEARCH's query: 3..128 bytes, no control characters; its words
    char query [ZPOST_QUERY_MAX + 2];
    memset (query, 'q', sizeof query - 1);
    query [sizeof query - 1] = 0;
    s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "inbox", "any", query,
                                      "50", "0", NULL), ZPOST_TOO_LARGE, "SEARCH", "r");
    query [ZPOST_QUERY_MAX] = 0;
    msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg, s_frames ("ZPOST1", "SEARCH", "r", "", "inbox",
                                     "any", query, "50", "0", NULL)) == 0);
    assert (strlen (zpost_msg_get (msg, ZPOST_F_QUERY)) == ZPOST_QUERY_MAX);
    zpost_msg_destroy (&msg);
    msg = zpost_msg_new ();
    assert (s_decode_request_frames (msg, s_frames ("ZPOST1", "SEARCH", "r", "", "sent",
                                     "body", "\xc3\xa9t\xc3\xa9", "1", "7", NULL)) == 0);
    zpost_msg_destroy (&msg);
    const char *bad_queries [] = { "", "ab", "a\tb", "two\nlines", "esc\x1b[", "del\x7f",
                                   "\xc3\x28xx", NULL };
    for (size_t index = 0; bad_queries [index]; index++)
        s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "inbox", "any",
                                          bad_queries [index], "50", "0", NULL),
                                ZPOST_INVALID_VALUE, "SEARCH", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "inbox", "to", "abc",
                                      "50", "0", NULL), ZPOST_INVALID_VALUE, "SEARCH", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "both", "any", "abc",
                                      "50", "0", NULL), ZPOST_INVALID_VALUE, "SEARCH", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "inbox", "any", "abc",
                                      "0", "0", NULL), ZPOST_INVALID_VALUE, "SEARCH", "r");
    s_expect_request_error (s_frames ("ZPOST1", "SEARCH", "r", "", "inbox", "any", "abc",
                                      "50", NULL), ZPOST_MALFORMED, "SEARCH", "r");

    //  Too many frames: refused without walking them all
    frames = s_frames ("ZPOST1", "PING", "r", "", NULL);
    for (int index = 0; index < 10000; index++)
        zmsg_addstr (frames, "store");
    s_expect_request_error (frames, ZPOST_MALFORMED, "PING", "r");

    //  A body over the protocol ceiling
    frames = s_frames ("ZPOST1", "SEND", "r", "", "bob", "s", NULL);
    zframe_t *body = zframe_new (NULL, ZPOST_BODY_MAX + 1);
    memset (zframe_data (body), 'a', ZPOST_BODY_MAX + 1);
    zmsg_append (frames, &body);
    s_expect_request_error (frames, ZPOST_TOO_LARGE, "SEND", "r");

    //  UTF-8: accepted and refused forms, then every short sequence
    assert (zpost_msg_valid_utf8 ("", 0));
    assert (!zpost_msg_valid_utf8 ("\xf0\x80\x80\x80", 4));  //  overlong (defect 13)
    assert (!zpost_msg_valid_utf8 ("\xf0\x8f\xbf\xbf", 4));  //  overlong U+FFFF
    assert (zpost_msg_valid_utf8 ("\xf0\x90\x80\x80", 4));   //  U+10000
    assert (zpost_msg_valid_utf8 ("\xf4\x8f\xbf\xbf", 4));   //  U+10FFFF
    assert (!zpost_msg_valid_utf8 ("\xf0\x9f\x93", 3));       //  truncated
    s_test_utf8_exhaustive ();
    assert (zpost_msg_valid_utf8 ("\xe2\x82\xac \xf0\x9f\x93\xa8", 8));
    assert (zpost_msg_valid_utf8 ("\xc2\x9b", 2));           //  U+009B is valid UTF-8
    assert (!zpost_msg_valid_utf8 ("\xc0\xaf", 2));          //  overlong
    assert (!zpost_msg_valid_utf8 ("\xe0\x80\xaf", 3));      //  overlong
    assert (!zpost_msg_valid_utf8 ("\xed\xa0\x80", 3));      //  surrogate
    assert (!zpost_msg_valid_utf8 ("\xf4\x90\x80\x80", 4));  //  past U+10FFFF
    assert (!zpost_msg_valid_utf8 ("\xe2\x82", 2));          //  truncated
    assert (!zpost_msg_valid_utf8 ("\x80", 1));              //  lone continuation
    assert (!zpost_msg_valid_utf8 ("\xff", 1));

    //  Replies: bad status, bad reason, wrong field count
    msg = zpost_msg_new ();
    frames = s_frames ("ZPOST1", "PING", "r", "2x0", "OK", "v", "store", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "PING", "r", "200", "O\nK", "v", "store", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "PING", "r", "200", "OK", "v", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "LIST", "r", "200", "OK", "1", "a", "b", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    //  A row is one frame of seven NUL-separated fields, no more, no fewer
    const char row_ok [] = "7\0alice\0bob\0hi\0" "1790000000\0" "12\0" "0";
    frames = s_frames ("ZPOST1", "LIST", "r", "200", "OK", NULL);
    zmsg_addmem (frames, row_ok, sizeof row_ok - 1);
    assert (zpost_msg_decode_reply (msg, &frames) == 0);
    assert (zpost_msg_rows (msg) == 1);
    assert (streq (zpost_msg_row_get (msg, 0, ZPOST_F_SUBJECT), "hi"));
    assert (streq (zpost_msg_row_get (msg, 0, ZPOST_F_SEEN), "0"));
    frames = s_frames ("ZPOST1", "LIST", "r", "200", "OK", NULL);
    zmsg_addmem (frames, row_ok, sizeof row_ok);        //  one NUL too many
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "LIST", "r", "200", "OK", NULL);
    zmsg_addmem (frames, row_ok, sizeof row_ok - 3);    //  a field short
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "PING", "r", "503", "down", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == 0);
    assert (zpost_msg_status (msg) == ZPOST_STORE_UNAVAILABLE);
    assert (streq (zpost_msg_reason (msg), "down"));
    frames = s_frames ("ZPOST1", "PING", "r", "503", "down", "a", "b", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "", "", "505", "ZPOST1 only", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == 0);
    assert (zpost_msg_status (msg) == ZPOST_VERSION_UNSUPPORTED);
    assert (zpost_msg_command (msg) == ZPOST_CMD_NONE);
    frames = s_frames ("ZPOST1", "", "", "200", "OK", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    frames = s_frames ("ZPOST1", "PING", "", "200", "OK", "v", "store", NULL);
    assert (zpost_msg_decode_reply (msg, &frames) == -2);
    zpost_msg_destroy (&msg);

    //  Long reasons are cut at a character boundary
    msg = zpost_msg_new_request (ZPOST_CMD_PING, "r", NULL);
    char long_reason [400] = "";
    for (int index = 0; index < 130; index++)
        strcat (long_reason, "\xc3\xa9");
    zpost_msg_t *reply = zpost_msg_new_reply (msg, ZPOST_INTERNAL_ERROR, long_reason);
    assert (strlen (zpost_msg_reason (reply)) <= ZPOST_REASON_MAX);
    zpost_msg_t *copy = s_round_trip (reply);
    zpost_msg_destroy (&copy);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&msg);

    //  Over real sockets: REQ to ROUTER and back, and DEALER to ROUTER
    zsock_t *router = zsock_new_router ("inproc://zpost_msg_test");
    zsock_t *req = zsock_new_req (">inproc://zpost_msg_test");
    zsock_t *dealer = zsock_new_dealer (">inproc://zpost_msg_test");
    assert (router && req && dealer);
    zsock_t *clients [] = { req, dealer };
    for (int index = 0; index < 2; index++) {
        msg = zpost_msg_new_request (ZPOST_CMD_PING, "sock-1", NULL);
        zpost_msg_set (msg, ZPOST_F_TARGET, "broker");
        assert (zpost_msg_send (msg, clients [index]) == 0);
        zpost_msg_t *request = zpost_msg_new ();
        assert (zpost_msg_recv_request (request, router) == 0);
        assert (zpost_msg_routing_id (request));
        assert (streq (zpost_msg_get (request, ZPOST_F_TARGET), "broker"));
        assert (streq (zpost_msg_client_key (request), ""));
        reply = zpost_msg_new_reply (request, ZPOST_OK, NULL);
        zpost_msg_set (reply, ZPOST_F_SERVER_VERSION, "zpost test");
        zpost_msg_set (reply, ZPOST_F_ANSWERED_BY, "broker");
        assert (zpost_msg_send (reply, router) == 0);
        zpost_msg_t *answer = zpost_msg_new ();
        assert (zpost_msg_recv_reply (answer, clients [index]) == 0);
        assert (zpost_msg_status (answer) == ZPOST_OK);
        assert (streq (zpost_msg_request_id (answer), "sock-1"));
        assert (streq (zpost_msg_get (answer, ZPOST_F_ANSWERED_BY), "broker"));
        zpost_msg_destroy (&answer);
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&request);
        zpost_msg_destroy (&msg);
    }
    //  A DEALER that forgets the delimiter is dropped unanswered
    zstr_sendx (dealer, "ZPOST1", "PING", "r", "", "store", NULL);
    msg = zpost_msg_new ();
    assert (zpost_msg_recv_request (msg, router) == -1);
    zpost_msg_destroy (&msg);
    zsock_destroy (&dealer);
    zsock_destroy (&req);
    zsock_destroy (&router);

    //  Passwords are wiped in every copy the codec frees
    s_test_wipes ();

    //  The one definition's flags
    assert (zpost_command_flags (ZPOST_CMD_NONE) == 0);
    assert (zpost_command_flags (ZPOST_CMD_PING) == 0);
    assert (zpost_command_flags (ZPOST_CMD_REGISTER)
            == (ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED | ZPOST_CMD_PASSWORD));
    assert (zpost_command_flags (ZPOST_CMD_LOGIN) == (ZPOST_CMD_WRITES | ZPOST_CMD_PASSWORD));
    assert (zpost_command_flags (ZPOST_CMD_LIST) == ZPOST_CMD_SESSION);
    assert (zpost_command_flags (ZPOST_CMD_PASSWD)
            == (ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED
                | ZPOST_CMD_PASSWORD));

    //  Names
    assert (zpost_msg_valid_username ("a"));
    assert (zpost_msg_valid_username ("Alice.B_c-9"));
    assert (!zpost_msg_valid_username (""));
    assert (!zpost_msg_valid_username (".alice"));
    assert (!zpost_msg_valid_username ("al ice"));
    assert (!zpost_msg_valid_username (NULL));
    assert (zpost_msg_command_from_name ("STATS") == ZPOST_CMD_STATS);
    assert (zpost_msg_command_from_name ("stats") == ZPOST_CMD_NONE);
    assert (streq (zpost_msg_command_name (ZPOST_CMD_PASSWD), "PASSWD"));
    assert (streq (zpost_msg_field_name (ZPOST_F_NEW_PASSWORD), "new-password"));

    if (verbose)
        printf ("OK\n");
}
