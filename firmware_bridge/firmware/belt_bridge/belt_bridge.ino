/*
 * belt_bridge: two breathing belts (and an optional pulse sensor per person) on one board,
 * sampled by one hardware timer and streamed over USB serial as belt protocol v1 frames
 * (firmware_bridge/PROTOCOL.md).
 *
 * Boards: classic ESP32 (Arduino core 2.x or 3.x, e.g. ESP32-DevKitC; not S2/S3/C3/C6,
 * whose ADC pins differ) and ATmega328P / ATmega32U4 (Arduino Uno, Nano, Leonardo,
 * Micro). Other boards stop the build with #error rather than run with untested pins.
 *
 * Build: the framing code lives in ../../c (plain C, tested on the host). With
 * arduino-cli:
 *   arduino-cli compile --fqbn esp32:esp32:esp32 --library firmware_bridge/c \
 *       firmware_bridge/firmware/belt_bridge
 * With the Arduino IDE: copy (or link) firmware_bridge/c into your sketchbook's
 * libraries folder as "belt_frame" once. See docs/belts.md.
 *
 * The timer interrupt only counts ticks; loop() reads the ADC for every tick. Sample
 * times are tick_number / rate on the board's crystal, so both belts share one clock and
 * the host sees no jitter from loop().
 */
#include <Arduino.h>
#include <belt_board.h>

/* ---- configuration ------------------------------------------------------------------ */
#define SAMPLE_RATE_HZ 50u   /* belt samples per second, per channel */
#define FRAME_SAMPLES 5u     /* samples per frame: 10 frames a second */
#define N_BELTS 2u           /* channel 0 = person A, channel 1 = person B */
#define USE_PULSE 1          /* 0 if no pulse sensors are wired */
#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

#if defined(CONFIG_IDF_TARGET_ESP32S2) || defined(CONFIG_IDF_TARGET_ESP32S3) || \
    defined(CONFIG_IDF_TARGET_ESP32C3) || defined(CONFIG_IDF_TARGET_ESP32C6)
#error "belt_bridge's ESP32 pins are those of the classic ESP32; set BELT_PINS for this chip"
#elif defined(ARDUINO_ARCH_ESP32)
/* ADC1 pins only: ADC2 is unusable while Wi-Fi runs. GPIO36 = VP, GPIO39 = VN. */
static const uint8_t BELT_PINS[N_BELTS] = {36, 39};
static const uint8_t PULSE_PINS[N_BELTS] = {34, 35};
#define ADC_BITS 12
#define BOARD_NAME "esp32"
#elif defined(ARDUINO_ARCH_AVR)
static const uint8_t BELT_PINS[N_BELTS] = {A0, A1};
static const uint8_t PULSE_PINS[N_BELTS] = {A2, A3};
#define ADC_BITS 10
#define BOARD_NAME "avr"
#else
#error "belt_bridge supports ESP32 and AVR (Uno, Nano, Leonardo, Micro) boards"
#endif

/* A belt input reading below this is an empty socket: the divider's resistor pulls the
 * pin to ground when no belt is plugged in (2 % of full scale). */
#define UNPLUGGED_BELOW ((1 << ADC_BITS) / 50)

/* ---- hardware timer ------------------------------------------------------------------ */
static volatile uint16_t pending_ticks = 0;

#if defined(ARDUINO_ARCH_ESP32)
static hw_timer_t *sample_timer = NULL;
static portMUX_TYPE tick_mux = portMUX_INITIALIZER_UNLOCKED;

static void IRAM_ATTR on_tick(void)
{
    portENTER_CRITICAL_ISR(&tick_mux);
    pending_ticks++;
    portEXIT_CRITICAL_ISR(&tick_mux);
}

static void start_timer(void)
{
#if defined(ESP_ARDUINO_VERSION_MAJOR) && ESP_ARDUINO_VERSION_MAJOR >= 3
    sample_timer = timerBegin(1000000);  /* 1 MHz tick */
    timerAttachInterrupt(sample_timer, &on_tick);
    timerAlarm(sample_timer, 1000000u / SAMPLE_RATE_HZ, true, 0);
#else
    sample_timer = timerBegin(0, 80, true);  /* 80 MHz APB / 80 = 1 MHz */
    timerAttachInterrupt(sample_timer, &on_tick, true);
    timerAlarmWrite(sample_timer, 1000000u / SAMPLE_RATE_HZ, true);
    timerAlarmEnable(sample_timer);
#endif
}

static uint16_t take_tick(void)
{
    uint16_t n;
    portENTER_CRITICAL(&tick_mux);
    n = pending_ticks;
    if (n > 0) {
        pending_ticks--;
    }
    portEXIT_CRITICAL(&tick_mux);
    return n;
}
#else /* AVR: Timer1 in CTC mode, prescaler 64 */
ISR(TIMER1_COMPA_vect)
{
    pending_ticks++;
}

static void start_timer(void)
{
    noInterrupts();
    TCCR1A = 0;
    TCCR1B = (1 << WGM12) | (1 << CS11) | (1 << CS10);
    TCNT1 = 0;
    OCR1A = (uint16_t)(F_CPU / 64u / SAMPLE_RATE_HZ - 1u); /* 4999 at 16 MHz, 50 Hz */
    TIMSK1 = (1 << OCIE1A);
    interrupts();
}

static uint16_t take_tick(void)
{
    uint16_t n;
    noInterrupts();
    n = pending_ticks;
    if (n > 0) {
        pending_ticks--;
    }
    interrupts();
    return n;
}
#endif

/* ---- sampling and streaming ---------------------------------------------------------- */
static belt_board_t board;
static uint8_t out[BELT_BOARD_OUT_MAX];

static int16_t centred(int raw)
{
    return (int16_t)(raw - (1 << (ADC_BITS - 1)));
}

static uint8_t read_belts(int16_t *values)
{
    uint8_t connected = 0;
    uint8_t c;
    for (c = 0; c < N_BELTS; c++) {
        int raw = analogRead(BELT_PINS[c]);
        values[c] = centred(raw);
        if (raw >= UNPLUGGED_BELOW) {
            connected |= (uint8_t)(1u << c);
        }
    }
    return connected;
}

void setup()
{
    static const belt_board_config_t cfg = {
        N_BELTS, FRAME_SAMPLES, SAMPLE_RATE_HZ * 1000u, ADC_BITS,
        FW_MAJOR, FW_MINOR, FW_PATCH, BOARD_NAME};
    int16_t values[N_BELTS];
    size_t n;

    Serial.begin(115200); /* the rate is ignored on native USB (ESP32-S3, 32U4) */
#if defined(ARDUINO_ARCH_ESP32)
    analogReadResolution(ADC_BITS);
#endif
    if (belt_board_init(&board, &cfg) != 0) {
        for (;;) {
            delay(1000); /* configuration does not fit BELT_BOARD_BUFFER: fix and rebuild */
        }
    }
    n = belt_board_start(&board, read_belts(values), out, sizeof out);
    Serial.write(out, n);
    start_timer();
}

void loop()
{
    int16_t values[N_BELTS];
    uint8_t connected;
    size_t n;
    uint8_t c;

    if (take_tick() == 0) {
        return;
    }
    connected = read_belts(values);
    n = belt_board_add(&board, values, connected, out, sizeof out);
    if (n > 0) {
        Serial.write(out, n);
    }
#if USE_PULSE
    for (c = 0; c < N_BELTS; c++) {
        n = belt_board_pulse(&board, c, centred(analogRead(PULSE_PINS[c])), out, sizeof out);
        if (n > 0) {
            Serial.write(out, n);
        }
    }
#else
    (void)c;
#endif
}
