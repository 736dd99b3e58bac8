/*
 * belt_host: host-side driver of belt_frame.c and belt_board.c for the tests.
 *
 *   belt_host            reads commands on stdin, one per line, answers one line each:
 *       encode FRAME     -> wire bytes in hex (COBS block and the 00 delimiter)
 *       decode HEX       -> FRAME, or "error CODE REASON" (HEX: one COBS block, no 00)
 *       cobs HEX         -> COBS encoding of HEX (no delimiter)
 *       uncobs HEX       -> decoded HEX, or "error"
 *       crc HEX          -> CRC-16/CCITT-FALSE of HEX as 4 hex digits
 *     FRAME is one of
 *       samples SEQ T_US RATE_MHZ N_CHANNELS N_SAMPLES V0 V1 ...   (sample-major)
 *       info SEQ MAJOR MINOR PATCH N_CHANNELS ADC_BITS RATE_MHZ NAME   (NAME "-" if empty)
 *       status SEQ T_US N_CHANNELS CONNECTED_MASK CLIPPING_MASK
 *       beat SEQ T_US CHANNEL IBI_US
 *     and "-" stands for no bytes.
 *   belt_host stream SECONDS [UNPLUG_CHANNEL UNPLUG_AT_S]
 *                        writes SECONDS of a simulated two-belt board (50 Hz, 5 samples
 *                        per frame, pulse beats) to stdout as binary wire bytes, made by
 *                        the firmware's own belt_board code.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../belt_board.h"
#include "../belt_frame.h"

#define LINE_MAX_CHARS 8192

static int16_t g_samples[BELT_MAX_SAMPLES * BELT_MAX_CHANNELS];

static void put_hex(const uint8_t *p, size_t n)
{
    size_t i;
    if (n == 0) {
        fputs("-", stdout);
    }
    for (i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
}

static long parse_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0, len = strlen(s);
    if (strcmp(s, "-") == 0) {
        return 0;
    }
    if (len % 2 != 0 || len / 2 > cap) {
        return -1;
    }
    for (n = 0; n < len / 2; n++) {
        unsigned v;
        if (sscanf(s + 2 * n, "%2x", &v) != 1) {
            return -1;
        }
        out[n] = (uint8_t)v;
    }
    return (long)n;
}

static unsigned long long num(char **save)
{
    char *tok = strtok_r(NULL, " \t\r\n", save);
    return tok ? strtoull(tok, NULL, 10) : 0ull;
}

/* Parse FRAME (the tokens after "encode"); returns 0 or -1. */
static int parse_frame(char **save, belt_frame_t *f)
{
    char *kind = strtok_r(NULL, " \t\r\n", save);
    size_t i, count;
    if (kind == NULL) {
        return -1;
    }
    memset(f, 0, sizeof *f);
    f->seq = (uint16_t)num(save);
    if (strcmp(kind, "samples") == 0) {
        belt_samples_t *s = &f->u.samples;
        f->type = BELT_SAMPLES;
        s->device_time_us = num(save);
        s->sample_rate_mhz = (uint32_t)num(save);
        s->n_channels = (uint8_t)num(save);
        s->n_samples = (uint8_t)num(save);
        s->samples = g_samples;
        count = (size_t)s->n_channels * s->n_samples;
        if (count > BELT_MAX_SAMPLES * BELT_MAX_CHANNELS) {
            return -1;
        }
        for (i = 0; i < count; i++) {
            char *tok = strtok_r(NULL, " \t\r\n", save);
            if (tok == NULL) {
                return -1;
            }
            g_samples[i] = (int16_t)strtol(tok, NULL, 10);
        }
    } else if (strcmp(kind, "info") == 0) {
        belt_info_t *d = &f->u.info;
        char *name;
        f->type = BELT_DEVICE_INFO;
        d->fw_major = (uint8_t)num(save);
        d->fw_minor = (uint8_t)num(save);
        d->fw_patch = (uint8_t)num(save);
        d->n_channels = (uint8_t)num(save);
        d->adc_bits = (uint8_t)num(save);
        d->sample_rate_mhz = (uint32_t)num(save);
        name = strtok_r(NULL, " \t\r\n", save);
        if (name == NULL || strlen(name) > BELT_MAX_NAME) {
            return -1;
        }
        if (strcmp(name, "-") != 0) {
            strcpy(d->name, name);
            d->name_len = (uint8_t)strlen(name);
        }
    } else if (strcmp(kind, "status") == 0) {
        f->type = BELT_STATUS;
        f->u.status.device_time_us = num(save);
        f->u.status.n_channels = (uint8_t)num(save);
        f->u.status.connected_mask = (uint8_t)num(save);
        f->u.status.clipping_mask = (uint8_t)num(save);
    } else if (strcmp(kind, "beat") == 0) {
        f->type = BELT_BEAT;
        f->u.beat.device_time_us = num(save);
        f->u.beat.channel = (uint8_t)num(save);
        f->u.beat.ibi_us = (uint32_t)num(save);
    } else {
        return -1;
    }
    return 0;
}

static void print_frame(const belt_frame_t *f)
{
    size_t i, count;
    switch (f->type) {
    case BELT_SAMPLES:
        printf("samples %u %llu %lu %u %u", f->seq,
               (unsigned long long)f->u.samples.device_time_us,
               (unsigned long)f->u.samples.sample_rate_mhz, f->u.samples.n_channels,
               f->u.samples.n_samples);
        count = (size_t)f->u.samples.n_channels * f->u.samples.n_samples;
        for (i = 0; i < count; i++) {
            printf(" %d", f->u.samples.samples[i]);
        }
        break;
    case BELT_DEVICE_INFO:
        printf("info %u %u %u %u %u %u %lu %s", f->seq, f->u.info.fw_major, f->u.info.fw_minor,
               f->u.info.fw_patch, f->u.info.n_channels, f->u.info.adc_bits,
               (unsigned long)f->u.info.sample_rate_mhz,
               f->u.info.name_len ? f->u.info.name : "-");
        break;
    case BELT_STATUS:
        printf("status %u %llu %u %u %u", f->seq, (unsigned long long)f->u.status.device_time_us,
               f->u.status.n_channels, f->u.status.connected_mask, f->u.status.clipping_mask);
        break;
    case BELT_BEAT:
        printf("beat %u %llu %u %lu", f->seq, (unsigned long long)f->u.beat.device_time_us,
               f->u.beat.channel, (unsigned long)f->u.beat.ibi_us);
        break;
    default:
        printf("error unknown");
    }
}

static int run_commands(void)
{
    static char line[LINE_MAX_CHARS];
    static uint8_t in[LINE_MAX_CHARS / 2];
    static uint8_t out[LINE_MAX_CHARS];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \t\r\n", &save);
        char *arg;
        long n;
        belt_frame_t f;
        if (cmd == NULL) {
            continue;
        }
        if (strcmp(cmd, "encode") == 0) {
            size_t len;
            if (parse_frame(&save, &f) != 0) {
                puts("error parse");
                continue;
            }
            len = belt_encode(&f, out, BELT_MAX_WIRE);
            if (len == 0) {
                puts("error encode");
                continue;
            }
            put_hex(out, len);
            putchar('\n');
            continue;
        }
        arg = strtok_r(NULL, " \t\r\n", &save);
        n = parse_hex(arg ? arg : "", in, sizeof in);
        if (n < 0) {
            puts("error hex");
            continue;
        }
        if (strcmp(cmd, "decode") == 0) {
            int rc;
            f.u.samples.samples = g_samples;
            rc = belt_decode(in, (size_t)n, &f);
            if (rc != BELT_OK) {
                printf("error %d %s\n", rc, belt_strerror(rc));
                continue;
            }
            print_frame(&f);
            putchar('\n');
        } else if (strcmp(cmd, "cobs") == 0) {
            size_t len = belt_cobs_encode(in, (size_t)n, out, sizeof out);
            put_hex(out, len);
            putchar('\n');
        } else if (strcmp(cmd, "uncobs") == 0) {
            long len = belt_cobs_decode(in, (size_t)n, out, sizeof out);
            if (len < 0) {
                puts("error");
            } else {
                put_hex(out, (size_t)len);
                putchar('\n');
            }
        } else if (strcmp(cmd, "crc") == 0) {
            printf("%04x\n", belt_crc16(in, (size_t)n));
        } else {
            puts("error command");
        }
        fflush(stdout);
    }
    return 0;
}

/* Simulated board: person A breathes at 15/min with a 72 bpm pulse, person B at 12/min
 * with a 60 bpm pulse; optionally one belt is pulled out part way through. */
static int run_stream(double seconds, int unplug_channel, double unplug_at_s)
{
    const double pi = 3.14159265358979323846;
    belt_board_config_t cfg = {2, 5, 50000u, 12, 1, 0, 0, "host-sim"};
    belt_board_t board;
    uint8_t out[BELT_BOARD_OUT_MAX];
    uint64_t k, n_total;
    size_t n;

    if (belt_board_init(&board, &cfg) != 0) {
        return 2;
    }
    n = belt_board_start(&board, 0x03, out, sizeof out);
    fwrite(out, 1, n, stdout);
    n_total = (uint64_t)(seconds * 50.0);
    for (k = 0; k < n_total; k++) {
        double t = (double)k / 50.0;
        int16_t v[2];
        uint8_t connected = 0x03;
        double pulse_a = sin(2 * pi * 1.2 * t), pulse_b = sin(2 * pi * 1.0 * t + 1.0);
        v[0] = (int16_t)lrint(600.0 * sin(2 * pi * 0.25 * t));
        v[1] = (int16_t)lrint(500.0 * sin(2 * pi * 0.2 * t + 0.5));
        if (unplug_channel >= 0 && t >= unplug_at_s) {
            connected &= (uint8_t)~(1u << unplug_channel);
            v[unplug_channel] = -2048; /* pulled to ground by the divider */
        }
        n = belt_board_add(&board, v, connected, out, sizeof out);
        n += belt_board_pulse(&board, 0, (int16_t)lrint(200.0 * pulse_a), out + n,
                              sizeof out - n);
        n += belt_board_pulse(&board, 1, (int16_t)lrint(200.0 * pulse_b), out + n,
                              sizeof out - n);
        fwrite(out, 1, n, stdout);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "stream") == 0) {
        int channel = argc >= 5 ? atoi(argv[3]) : -1;
        double at = argc >= 5 ? atof(argv[4]) : 0.0;
        return run_stream(atof(argv[2]), channel, at);
    }
    if (argc == 1) {
        return run_commands();
    }
    fprintf(stderr, "usage: belt_host [stream SECONDS [UNPLUG_CHANNEL UNPLUG_AT_S]]\n");
    return 2;
}
