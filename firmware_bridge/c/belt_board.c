/*
 * belt_board.c: frame assembly, once-a-second status and pulse beats (see belt_board.h).
 */
#include "belt_board.h"

#include <string.h>

/* A heartbeat needs this much pulse amplitude (ADC counts) and at least this much time
 * since the previous one (300 ms = 200 bpm). */
#define PULSE_MIN_SWING 24
#define PULSE_REFRACTORY_US 300000u

int belt_board_init(belt_board_t *b, const belt_board_config_t *cfg)
{
    int32_t half;
    if (cfg->n_channels < 1 || cfg->n_channels > BELT_MAX_CHANNELS || cfg->frame_samples < 1 ||
        cfg->frame_samples > BELT_MAX_SAMPLES || cfg->sample_rate_mhz == 0 ||
        (unsigned)cfg->n_channels * cfg->frame_samples > BELT_BOARD_BUFFER ||
        cfg->adc_bits < 2 || cfg->adc_bits > 16) {
        return -1;
    }
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    b->per_second = (cfg->sample_rate_mhz + 500u) / 1000u;
    if (b->per_second == 0) {
        b->per_second = 1;
    }
    half = (int32_t)1 << (cfg->adc_bits - 1);
    b->rail_lo = (int16_t)(-half);
    b->rail_hi = (int16_t)(half - 1);
    return 0;
}

uint64_t belt_board_time_us(const belt_board_t *b, uint64_t k)
{
    /* k * 1e9 / rate_mhz without overflow for any realistic k (2^64 / 1e9 s of samples). */
    uint64_t whole = k / b->cfg.sample_rate_mhz;
    uint64_t rest = k % b->cfg.sample_rate_mhz;
    return whole * 1000000000u + rest * 1000000000u / b->cfg.sample_rate_mhz;
}

static size_t emit(belt_board_t *b, belt_frame_t *f, uint8_t *out, size_t cap)
{
    size_t n;
    f->seq = b->seq;
    n = belt_encode(f, out, cap);
    if (n > 0) {
        b->seq++;
    }
    return n;
}

static size_t emit_info(belt_board_t *b, uint8_t *out, size_t cap)
{
    belt_frame_t f;
    size_t len = 0;
    f.type = BELT_DEVICE_INFO;
    f.u.info.fw_major = b->cfg.fw_major;
    f.u.info.fw_minor = b->cfg.fw_minor;
    f.u.info.fw_patch = b->cfg.fw_patch;
    f.u.info.n_channels = b->cfg.n_channels;
    f.u.info.adc_bits = b->cfg.adc_bits;
    f.u.info.sample_rate_mhz = b->cfg.sample_rate_mhz;
    if (b->cfg.name != NULL) {
        while (len < BELT_MAX_NAME && b->cfg.name[len] != '\0') {
            f.u.info.name[len] = b->cfg.name[len];
            len++;
        }
    }
    f.u.info.name[len] = '\0';
    f.u.info.name_len = (uint8_t)len;
    return emit(b, &f, out, cap);
}

static size_t emit_status(belt_board_t *b, uint64_t t_us, uint8_t *out, size_t cap)
{
    belt_frame_t f;
    size_t n;
    f.type = BELT_STATUS;
    f.u.status.device_time_us = t_us;
    f.u.status.n_channels = b->cfg.n_channels;
    f.u.status.connected_mask = b->connected;
    f.u.status.clipping_mask = b->clipping;
    n = emit(b, &f, out, cap);
    if (n > 0) {
        b->reported = b->connected;
        b->clipping = 0;
    }
    return n;
}

size_t belt_board_start(belt_board_t *b, uint8_t connected_mask, uint8_t *out, size_t cap)
{
    size_t n;
    b->connected = connected_mask;
    n = emit_info(b, out, cap);
    return n + emit_status(b, 0, out + n, cap - n);
}

size_t belt_board_add(belt_board_t *b, const int16_t *values, uint8_t connected_mask,
                      uint8_t *out, size_t cap)
{
    uint8_t c, nc = b->cfg.n_channels;
    size_t n = 0;
    uint64_t k = b->n_taken;

    for (c = 0; c < nc; c++) {
        int16_t v = values[c];
        b->buf[(size_t)b->fill * nc + c] = v;
        if (v <= b->rail_lo || v >= b->rail_hi) {
            b->clipping |= (uint8_t)(1u << c);
        }
    }
    b->fill++;
    b->n_taken++;
    b->connected = connected_mask;

    if (b->fill == b->cfg.frame_samples) {
        belt_frame_t f;
        f.type = BELT_SAMPLES;
        f.u.samples.device_time_us = belt_board_time_us(b, b->n_taken - b->fill);
        f.u.samples.sample_rate_mhz = b->cfg.sample_rate_mhz;
        f.u.samples.n_channels = nc;
        f.u.samples.n_samples = b->fill;
        f.u.samples.samples = b->buf;
        n += emit(b, &f, out + n, cap - n);
        b->fill = 0;
    }
    if (b->n_taken % b->per_second == 0) { /* once a second: who we are, how we are */
        n += emit_info(b, out + n, cap - n);
        n += emit_status(b, belt_board_time_us(b, k), out + n, cap - n);
    } else if (b->connected != b->reported) { /* a belt was plugged in or pulled out */
        n += emit_status(b, belt_board_time_us(b, k), out + n, cap - n);
    }
    return n;
}

size_t belt_board_pulse(belt_board_t *b, uint8_t channel, int16_t value, uint8_t *out,
                        size_t cap)
{
    belt_pulse_t *p;
    int32_t mid, swing, decay;
    size_t n = 0;
    uint64_t k, t_prev, t_now, t_beat;

    if (channel >= b->cfg.n_channels || b->n_taken == 0) {
        return 0;
    }
    p = &b->pulse[channel];
    k = b->n_taken - 1; /* the sample this value belongs to */
    if (!p->primed) {
        p->lo = p->hi = value;
        p->last = value;
        p->primed = 1;
        return 0;
    }
    /* Envelope that follows the pulse and forgets it in about two seconds. */
    swing = p->hi - p->lo;
    decay = swing / (int32_t)(2u * b->per_second) + 1;
    p->hi = (value > p->hi - decay) ? value : p->hi - decay;
    p->lo = (value < p->lo + decay) ? value : p->lo + decay;
    swing = p->hi - p->lo;
    mid = p->lo + swing / 2;

    if (value < p->lo + swing / 4) {
        p->armed = 1;
    }
    if (swing >= PULSE_MIN_SWING && p->armed && p->last < mid && value >= mid) {
        /* Upstroke through the middle: interpolate the crossing between the samples. */
        t_prev = belt_board_time_us(b, k - 1);
        t_now = belt_board_time_us(b, k);
        t_beat = t_prev + (t_now - t_prev) * (uint64_t)(mid - p->last) /
                              (uint64_t)(value - p->last);
        if (!p->have_beat || t_beat - p->last_beat_us >= PULSE_REFRACTORY_US) {
            belt_frame_t f;
            f.type = BELT_BEAT;
            f.u.beat.device_time_us = t_beat;
            f.u.beat.channel = channel;
            f.u.beat.ibi_us = p->have_beat ? (uint32_t)(t_beat - p->last_beat_us) : 0u;
            n = emit(b, &f, out, cap);
            p->last_beat_us = t_beat;
            p->have_beat = 1;
            p->armed = 0;
        }
    }
    p->last = value;
    return n;
}
