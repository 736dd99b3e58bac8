/*
 * belt_frame.c: encoder and decoder of the firmware_bridge belt protocol, version 1.
 *
 * The encoder writes COBS on the fly (no second buffer), computing the CRC as it goes,
 * so a small board needs only the output buffer. See belt_frame.h and ../PROTOCOL.md.
 */
#include "belt_frame.h"

#include <string.h>

static uint16_t crc_step(uint16_t crc, uint8_t byte)
{
    int bit;
    crc ^= (uint16_t)((uint16_t)byte << 8);
    for (bit = 0; bit < 8; bit++) {
        crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t belt_crc16(const uint8_t *data, size_t n)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    for (i = 0; i < n; i++) {
        crc = crc_step(crc, data[i]);
    }
    return crc;
}

/* ---- streaming COBS writer ------------------------------------------------------ */

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t pos;      /* next free byte in out */
    size_t code_pos; /* where the current block's code byte goes */
    uint8_t code;    /* 1 + number of data bytes in the current block */
    uint16_t crc;
    int overflow;
} cobs_writer_t;

static void cw_init(cobs_writer_t *w, uint8_t *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->code_pos = 0;
    w->pos = 1;
    w->code = 1;
    w->crc = 0xFFFFu;
    w->overflow = (cap < 1);
}

/* Write the current block's code and reserve a byte for the next block's code. */
static void cw_close_block(cobs_writer_t *w)
{
    w->out[w->code_pos] = w->code;
    w->code_pos = w->pos;
    w->code = 1;
    if (w->pos >= w->cap) {
        w->overflow = 1;
        return;
    }
    w->pos++;
}

static void cw_raw(cobs_writer_t *w, uint8_t byte)
{
    if (w->overflow) {
        return;
    }
    if (byte == 0) {
        cw_close_block(w);
        return;
    }
    if (w->pos >= w->cap) {
        w->overflow = 1;
        return;
    }
    w->out[w->pos++] = byte;
    w->code++;
    if (w->code == 0xFF) { /* 254 data bytes: close the block without a zero */
        cw_close_block(w);
    }
}

static void cw_put(cobs_writer_t *w, uint8_t byte)
{
    w->crc = crc_step(w->crc, byte);
    cw_raw(w, byte);
}

static void cw_u16(cobs_writer_t *w, uint16_t v)
{
    cw_put(w, (uint8_t)(v & 0xFFu));
    cw_put(w, (uint8_t)(v >> 8));
}

static void cw_u32(cobs_writer_t *w, uint32_t v)
{
    cw_u16(w, (uint16_t)(v & 0xFFFFu));
    cw_u16(w, (uint16_t)(v >> 16));
}

static void cw_u64(cobs_writer_t *w, uint64_t v)
{
    cw_u32(w, (uint32_t)(v & 0xFFFFFFFFu));
    cw_u32(w, (uint32_t)(v >> 32));
}

/* Close the last block; returns the COBS length (0 on overflow). */
static size_t cw_finish(cobs_writer_t *w)
{
    if (w->overflow) {
        return 0;
    }
    w->out[w->code_pos] = w->code;
    return w->pos;
}

size_t belt_cobs_encode(const uint8_t *data, size_t n, uint8_t *out, size_t out_cap)
{
    cobs_writer_t w;
    size_t i;
    cw_init(&w, out, out_cap);
    for (i = 0; i < n; i++) {
        cw_raw(&w, data[i]);
    }
    return cw_finish(&w);
}

long belt_cobs_decode(const uint8_t *block, size_t n, uint8_t *out, size_t out_cap)
{
    size_t i = 0, o = 0, k;
    while (i < n) {
        uint8_t code = block[i];
        if (code == 0 || i + code > n) {
            return -1;
        }
        for (k = 1; k < code; k++) {
            if (block[i + k] == 0 || o >= out_cap) {
                return -1;
            }
            out[o++] = block[i + k];
        }
        i += code;
        if (code != 0xFF && i < n) {
            if (o >= out_cap) {
                return -1;
            }
            out[o++] = 0;
        }
    }
    return (long)o;
}

/* ---- frames ---------------------------------------------------------------------- */

size_t belt_encode(const belt_frame_t *f, uint8_t *out, size_t out_cap)
{
    cobs_writer_t w;
    size_t i, n, len;
    uint16_t crc;

    if (f == NULL || out == NULL) {
        return 0;
    }
    cw_init(&w, out, out_cap);
    cw_put(&w, (uint8_t)BELT_PROTOCOL_VERSION);
    cw_put(&w, f->type);
    cw_u16(&w, f->seq);
    switch (f->type) {
    case BELT_SAMPLES: {
        const belt_samples_t *s = &f->u.samples;
        if (s->n_channels < 1 || s->n_channels > BELT_MAX_CHANNELS || s->n_samples < 1 ||
            s->n_samples > BELT_MAX_SAMPLES || s->samples == NULL || s->sample_rate_mhz == 0) {
            return 0;
        }
        cw_u64(&w, s->device_time_us);
        cw_u32(&w, s->sample_rate_mhz);
        cw_put(&w, s->n_channels);
        cw_put(&w, s->n_samples);
        n = (size_t)s->n_channels * s->n_samples;
        for (i = 0; i < n; i++) {
            cw_u16(&w, (uint16_t)s->samples[i]);
        }
        break;
    }
    case BELT_DEVICE_INFO: {
        const belt_info_t *d = &f->u.info;
        if (d->name_len > BELT_MAX_NAME) {
            return 0;
        }
        cw_put(&w, d->fw_major);
        cw_put(&w, d->fw_minor);
        cw_put(&w, d->fw_patch);
        cw_put(&w, d->n_channels);
        cw_put(&w, d->adc_bits);
        cw_u32(&w, d->sample_rate_mhz);
        cw_put(&w, d->name_len);
        for (i = 0; i < d->name_len; i++) {
            cw_put(&w, (uint8_t)d->name[i]);
        }
        break;
    }
    case BELT_STATUS: {
        const belt_status_t *st = &f->u.status;
        if (st->n_channels < 1 || st->n_channels > BELT_MAX_CHANNELS) {
            return 0;
        }
        cw_u64(&w, st->device_time_us);
        cw_put(&w, st->n_channels);
        cw_put(&w, st->connected_mask);
        cw_put(&w, st->clipping_mask);
        break;
    }
    case BELT_BEAT:
        cw_u64(&w, f->u.beat.device_time_us);
        cw_put(&w, f->u.beat.channel);
        cw_u32(&w, f->u.beat.ibi_us);
        break;
    default:
        return 0;
    }
    crc = w.crc;
    cw_raw(&w, (uint8_t)(crc & 0xFFu));
    cw_raw(&w, (uint8_t)(crc >> 8));
    len = cw_finish(&w);
    if (len == 0 || len >= out_cap) {
        return 0;
    }
    out[len] = 0x00; /* frame delimiter */
    return len + 1;
}

static uint16_t rd_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)rd_u16(p) | ((uint32_t)rd_u16(p + 2) << 16);
}

static uint64_t rd_u64(const uint8_t *p)
{
    return (uint64_t)rd_u32(p) | ((uint64_t)rd_u32(p + 4) << 32);
}

int belt_decode(const uint8_t *block, size_t n, belt_frame_t *f)
{
    uint8_t raw[BELT_MAX_FRAME];
    long got = belt_cobs_decode(block, n, raw, sizeof raw);
    size_t len, body_len, i, count;
    const uint8_t *body;

    if (got < 0) {
        /* Either malformed COBS or longer than any valid frame. */
        return (n > BELT_MAX_FRAME + 3u) ? BELT_ERR_LENGTH : BELT_ERR_COBS;
    }
    len = (size_t)got;
    if (len < 6) {
        return BELT_ERR_LENGTH;
    }
    if (belt_crc16(raw, len - 2) != rd_u16(raw + len - 2)) {
        return BELT_ERR_CRC;
    }
    if (raw[0] != BELT_PROTOCOL_VERSION) {
        return BELT_ERR_VERSION;
    }
    f->type = raw[1];
    f->seq = rd_u16(raw + 2);
    body = raw + 4;
    body_len = len - 6;
    switch (f->type) {
    case BELT_SAMPLES: {
        belt_samples_t *s = &f->u.samples;
        if (s->samples == NULL) {
            return BELT_ERR_ARGS;
        }
        if (body_len < 14) {
            return BELT_ERR_LENGTH;
        }
        s->device_time_us = rd_u64(body);
        s->sample_rate_mhz = rd_u32(body + 8);
        s->n_channels = body[12];
        s->n_samples = body[13];
        if (s->n_channels < 1 || s->n_channels > BELT_MAX_CHANNELS || s->n_samples < 1 ||
            s->n_samples > BELT_MAX_SAMPLES || s->sample_rate_mhz == 0) {
            return BELT_ERR_FIELD;
        }
        count = (size_t)s->n_channels * s->n_samples;
        if (body_len != 14 + 2 * count) {
            return BELT_ERR_LENGTH;
        }
        for (i = 0; i < count; i++) {
            s->samples[i] = (int16_t)rd_u16(body + 14 + 2 * i);
        }
        return BELT_OK;
    }
    case BELT_DEVICE_INFO: {
        belt_info_t *d = &f->u.info;
        if (body_len < 10) {
            return BELT_ERR_LENGTH;
        }
        d->fw_major = body[0];
        d->fw_minor = body[1];
        d->fw_patch = body[2];
        d->n_channels = body[3];
        d->adc_bits = body[4];
        d->sample_rate_mhz = rd_u32(body + 5);
        d->name_len = body[9];
        if (d->name_len > BELT_MAX_NAME || body_len != 10u + d->name_len) {
            return BELT_ERR_LENGTH;
        }
        memcpy(d->name, body + 10, d->name_len);
        d->name[d->name_len] = '\0';
        return BELT_OK;
    }
    case BELT_STATUS:
        if (body_len != 11) {
            return BELT_ERR_LENGTH;
        }
        f->u.status.device_time_us = rd_u64(body);
        f->u.status.n_channels = body[8];
        f->u.status.connected_mask = body[9];
        f->u.status.clipping_mask = body[10];
        if (f->u.status.n_channels < 1 || f->u.status.n_channels > BELT_MAX_CHANNELS) {
            return BELT_ERR_FIELD;
        }
        return BELT_OK;
    case BELT_BEAT:
        if (body_len != 13) {
            return BELT_ERR_LENGTH;
        }
        f->u.beat.device_time_us = rd_u64(body);
        f->u.beat.channel = body[8];
        f->u.beat.ibi_us = rd_u32(body + 9);
        return BELT_OK;
    default:
        return BELT_ERR_TYPE;
    }
}

const char *belt_strerror(int code)
{
    switch (code) {
    case BELT_OK: return "ok";
    case BELT_ERR_ARGS: return "bad arguments";
    case BELT_ERR_COBS: return "bad COBS";
    case BELT_ERR_LENGTH: return "bad length";
    case BELT_ERR_CRC: return "CRC mismatch";
    case BELT_ERR_VERSION: return "unsupported protocol version";
    case BELT_ERR_TYPE: return "unknown frame type";
    case BELT_ERR_FIELD: return "field out of range";
    default: return "unknown error";
    }
}
