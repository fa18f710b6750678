// Leveled logging to stderr with timestamps; the one log of the process.
#ifndef HILT_LOG_H
#define HILT_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
  HILT_LOG_DEBUG = 0,
  HILT_LOG_INFO = 1,
  HILT_LOG_WARN = 2,
  HILT_LOG_ERROR = 3,
  HILT_LOG_OFF = 4,
} hilt_log_level_t;

/// Reads HILT_LOG (debug|info|warn|error|off). An unknown value keeps the
/// default (info) and returns -1 so the caller can say so; 0 otherwise.
int hilt_log_init(void);

/// Parses a level name. Returns the level, or -1 for an unknown name.
int hilt_log_parse(const char *name);

/// The level name ("debug", ...); a static string.
const char *hilt_log_name(hilt_log_level_t level);

void hilt_log_set_level(hilt_log_level_t level);
hilt_log_level_t hilt_log_get_level(void);

/// True when a message at `level` would be written.
int hilt_log_enabled(hilt_log_level_t level);

/// Writes one line: "2026-11-21T15:04:05.123Z WARN  source: message".
/// `source` names the part of hilt (or the script) that logs; may be NULL.
void hilt_log(hilt_log_level_t level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hilt_logv(hilt_log_level_t level, const char *source, const char *fmt,
               va_list ap);

/// Batching (off at first): while on, lines below WARN are kept in a
/// 64 KiB buffer until hilt_log_flush() (or a WARN or ERROR line, or a
/// full buffer) writes them in one go. The owner of the event loop turns
/// it on and flushes before the loop waits for I/O and at exit.
void hilt_log_batch(int on);
void hilt_log_flush(void);

/// Sends the lines somewhere other than stderr (NULL: back to stderr): the
/// REPL draws them above the line being typed.
typedef void (*hilt_log_writer_t)(void *data, const char *s, size_t n);
void hilt_log_set_writer(hilt_log_writer_t fn, void *data);

/// Writes `msg` as is (it may hold newlines, e.g. a traceback).
void hilt_log_write(hilt_log_level_t level, const char *source,
                    const char *msg);

#define HILT_DEBUG(...) hilt_log(HILT_LOG_DEBUG, __VA_ARGS__)
#define HILT_INFO(...) hilt_log(HILT_LOG_INFO, __VA_ARGS__)
#define HILT_WARN(...) hilt_log(HILT_LOG_WARN, __VA_ARGS__)
#define HILT_ERROR(...) hilt_log(HILT_LOG_ERROR, __VA_ARGS__)

#endif
