/*
 * belt_frame: the firmware_bridge belt protocol, version 1 (see ../PROTOCOL.md).
 *
 * Plain C99, no Arduino and no heap: the same file is compiled into the firmware and,
 * on the host, into the test program that checks test_vectors/belt_v1.json.
 *
 * A frame on the wire is COBS(version | type | seq | body | crc16) followed by 0x00.
 * All multi-byte fields are little-endian; the CRC is CRC-16/CCITT-FALSE.
 */
#ifndef BELT_FRAME_H
#define BELT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BELT_PROTOCOL_VERSION 1u
#define BELT_MAX_CHANNELS 8u
#define BELT_MAX_SAMPLES 32u
#define BELT_MAX_NAME 32u
/* Largest decoded frame: header 4 + samples header 14 + 2*8*32 samples + crc 2. */
#define BELT_MAX_FRAME (4u + 14u + 2u * BELT_MAX_CHANNELS * BELT_MAX_SAMPLES + 2u)
/* COBS adds one byte per started run of 254 bytes, plus the 0x00 delimiter. */
#define BELT_MAX_WIRE (BELT_MAX_FRAME + (BELT_MAX_FRAME + 253u) / 254u + 1u)

typedef enum {
    BELT_SAMPLES = 0x01,
    BELT_DEVICE_INFO = 0x02,
    BELT_STATUS = 0x03,
    BELT_BEAT = 0x04
} belt_type_t;

typedef struct {
    uint64_t device_time_us;  /* device clock of the first sample */
    uint32_t sample_rate_mhz; /* millihertz: 50 Hz -> 50000 */
    uint8_t n_channels;       /* 1..8 */
    uint8_t n_samples;        /* 1..32 */
    /* n_samples * n_channels values, sample-major (s0c0, s0c1, ..., s1c0, ...).
     * Encoding reads them from here. Decoding writes them here: point it at a buffer of
     * BELT_MAX_SAMPLES * BELT_MAX_CHANNELS values first. (A pointer, not an array, so a
     * board with 2 KB of RAM need not reserve room for 8 x 32 samples.) */
    int16_t *samples;
} belt_samples_t;

typedef struct {
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t n_channels;
    uint8_t adc_bits;
    uint32_t sample_rate_mhz;
    uint8_t name_len; /* 0..32 */
    char name[BELT_MAX_NAME + 1]; /* NUL-terminated copy of the name */
} belt_info_t;

typedef struct {
    uint64_t device_time_us;
    uint8_t n_channels;
    uint8_t connected_mask; /* bit c: a belt is plugged into channel c */
    uint8_t clipping_mask;  /* bit c: channel c touched a rail in the last second */
} belt_status_t;

typedef struct {
    uint64_t device_time_us; /* time of the beat */
    uint8_t channel;         /* the person's belt channel */
    uint32_t ibi_us;         /* interval since the previous beat; 0 for the first */
} belt_beat_t;

typedef struct {
    uint8_t type; /* belt_type_t */
    uint16_t seq;
    union {
        belt_samples_t samples;
        belt_info_t info;
        belt_status_t status;
        belt_beat_t beat;
    } u;
} belt_frame_t;

typedef enum {
    BELT_OK = 0,
    BELT_ERR_ARGS = -1,      /* a field is out of range or the output buffer is too small */
    BELT_ERR_COBS = -2,      /* the block is not valid COBS */
    BELT_ERR_LENGTH = -3,    /* too short, too long, or length does not match the body */
    BELT_ERR_CRC = -4,       /* CRC mismatch */
    BELT_ERR_VERSION = -5,   /* protocol version this code does not read */
    BELT_ERR_TYPE = -6,      /* unknown frame type */
    BELT_ERR_FIELD = -7      /* a field is out of its range (channel count, zero rate ...) */
} belt_status_code_t;

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor). */
uint16_t belt_crc16(const uint8_t *data, size_t n);

/* COBS-encode n bytes into out (no delimiter added). Returns the encoded length, or 0
 * if out_cap is too small. out must not overlap data. */
size_t belt_cobs_encode(const uint8_t *data, size_t n, uint8_t *out, size_t out_cap);

/* Decode one COBS block (without its delimiter). Returns the decoded length, or -1 if
 * the block is malformed or does not fit in out_cap. */
long belt_cobs_decode(const uint8_t *block, size_t n, uint8_t *out, size_t out_cap);

/* Encode frame f as wire bytes (COBS block plus the 0x00 delimiter) into out.
 * Returns the number of bytes written, or 0 if f is invalid or out_cap is too small;
 * BELT_MAX_WIRE bytes are always enough. */
size_t belt_encode(const belt_frame_t *f, uint8_t *out, size_t out_cap);

/* Decode one COBS block (without the delimiter) into f. Returns BELT_OK or a negative
 * belt_status_code_t. For a samples frame, f->u.samples.samples must already point at
 * room for BELT_MAX_SAMPLES * BELT_MAX_CHANNELS values (BELT_ERR_ARGS if it is NULL). */
int belt_decode(const uint8_t *block, size_t n, belt_frame_t *f);

/* A short English reason for a belt_status_code_t. */
const char *belt_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* BELT_FRAME_H */
