/*  =========================================================================
    fuzz_frames - the fuzzers' input layout: bytes into frames

    Every harness reads its input the same way, so one seed corpus format
    serves them all: after the harness's own leading byte, frames, each a
    2-byte big-endian length and that many bytes; a short last frame takes
    what is left.
    =========================================================================
*/

#ifndef FUZZ_FRAMES_H_INCLUDED
#define FUZZ_FRAMES_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

static inline zmsg_t *
fuzz_frames_from (const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    size_t index = 0;
    while (index < size) {
        size_t length = (size_t) data [index] << 8;
        if (index + 1 < size)
            length |= data [index + 1];
        index += 2;
        if (index > size)
            index = size;
        if (length > size - index)
            length = size - index;
        zmsg_addmem (msg, data + index, length);
        index += length;
    }
    return msg;
}

#endif
