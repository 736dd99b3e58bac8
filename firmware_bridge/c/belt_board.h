/*
 * belt_board: what the firmware does with its samples, in plain C so the host can run it.
 *
 * The sketch reads the ADC on each timer tick and hands the values to belt_board_add();
 * this module packs them into samples frames, sends device info and status once a second
 * and when a belt is plugged or unplugged, tracks ADC clipping, and turns the optional
 * pulse sensors into beat frames. The host test program drives the same code with
 * synthetic signals (`belt_host stream`), so the end-to-end test runs the firmware's
 * logic, not a copy of it.
 */
#ifndef BELT_BOARD_H
#define BELT_BOARD_H

#include "belt_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Samples buffered for one frame, all channels: 8 samples x 4 channels by default
 * (128 bytes, fine on a 2 KB ATmega). */
#ifndef BELT_BOARD_BUFFER
#define BELT_BOARD_BUFFER 32u
#endif

/* Enough room for what one belt_board_add() call can produce:
 * a samples frame, a device-info frame and a status frame. */
#define BELT_BOARD_OUT_MAX (2u * BELT_BOARD_BUFFER + 24u + 2u * 50u + 32u)

typedef struct {
    uint8_t n_channels;    /* belt channels, 1..8 */
    uint8_t frame_samples; /* samples per frame; n_channels * frame_samples <= BELT_BOARD_BUFFER */
    uint32_t sample_rate_mhz;
    uint8_t adc_bits;
    uint8_t fw_major, fw_minor, fw_patch;
    const char *name; /* board name, ASCII, up to 32 characters */
} belt_board_config_t;

typedef struct {
    int32_t lo, hi;      /* decaying envelope of the pulse signal */
    int16_t last;        /* previous sample */
    uint8_t primed;      /* envelope initialised */
    uint8_t armed;       /* signal has fallen below the threshold since the last beat */
    uint64_t last_beat_us;
    uint8_t have_beat;
} belt_pulse_t;

typedef struct {
    belt_board_config_t cfg;
    uint16_t seq;
    uint64_t n_taken;   /* samples taken since start */
    uint32_t per_second;/* samples per second (rounded) */
    uint8_t fill;       /* samples in buf */
    int16_t buf[BELT_BOARD_BUFFER];
    uint8_t connected;  /* mask reported by the sketch with the latest sample */
    uint8_t reported;   /* connected mask of the last status frame */
    uint8_t clipping;   /* channels that hit a rail since the last status frame */
    int16_t rail_lo, rail_hi; /* values that count as clipping */
    belt_pulse_t pulse[BELT_MAX_CHANNELS];
} belt_board_t;

/* Set up; returns 0, or -1 if the configuration does not fit (see BELT_BOARD_BUFFER). */
int belt_board_init(belt_board_t *b, const belt_board_config_t *cfg);

/* Device time (us since start) of sample number k. */
uint64_t belt_board_time_us(const belt_board_t *b, uint64_t k);

/* The first bytes to send: device info and status. Returns bytes written to out. */
size_t belt_board_start(belt_board_t *b, uint8_t connected_mask, uint8_t *out, size_t cap);

/* One timer tick: n_channels values, already centred (ADC reading minus half scale),
 * and which belts are plugged in. Writes any frames that are due to out (cap at least
 * BELT_BOARD_OUT_MAX) and returns their length (often 0). */
size_t belt_board_add(belt_board_t *b, const int16_t *values, uint8_t connected_mask,
                      uint8_t *out, size_t cap);

/* Feed the centred pulse-sensor value of person `channel` for the sample just added
 * with belt_board_add(). If it completes a heartbeat, writes a beat frame to out and
 * returns its length; otherwise returns 0. */
size_t belt_board_pulse(belt_board_t *b, uint8_t channel, int16_t value, uint8_t *out,
                        size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* BELT_BOARD_H */
