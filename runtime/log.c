// Leveled logging to stderr. Each line is written with one fwrite so lines
// from the runtime and from scripts never interleave mid-line.
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static hilt_log_level_t log_level = HILT_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

int hilt_log_parse(const char *name)
{
  for (int i = 0; i <= HILT_LOG_OFF; i++) {
    if (strcasecmp(name, level_names[i]) == 0) {
      return i;
    }
  }
  if (strcasecmp(name, "warning") == 0) {
    return HILT_LOG_WARN;
  }
  return -1;
}

int hilt_log_init(void)
{
  const char *env = getenv("HILT_LOG");
  if (env == NULL || *env == '\0') {
    return 0;
  }
  int level = hilt_log_parse(env);
  if (level < 0) {
    return -1;
  }
  log_level = (hilt_log_level_t)level;
  return 0;
}

const char *hilt_log_name(hilt_log_level_t level)
{
  return level <= HILT_LOG_OFF ? level_names[level] : "?";
}

void hilt_log_set_level(hilt_log_level_t level)
{
  log_level = level;
}

hilt_log_level_t hilt_log_get_level(void)
{
  return log_level;
}

int hilt_log_enabled(hilt_log_level_t level)
{
  return level >= log_level && level < HILT_LOG_OFF;
}

// Formats "2026-11-21T15:04:05.123Z" (UTC) into buf. The part up to the
// seconds changes once a second and is kept: gmtime and strftime cost more
// than the rest of a line.
static void format_time(char *buf, size_t size)
{
  static time_t cached_sec = -1;
  static char cached[32];
  static size_t cached_len;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  if (tv.tv_sec != cached_sec) {
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_sec = tv.tv_sec;
  }
  snprintf(buf, size, "%.*s.%03dZ", (int)cached_len, cached,
           (int)(tv.tv_usec / 1000));
}

// Lines below WARN wait here while batching is on, and leave in one write
// when the owner of the loop flushes (before the loop sleeps, as Redis
// writes before it sleeps): a busy exporter logging every call then pays
// one system call per loop pass, not one per line. WARN and ERROR lines go
// at once, after what waits, so the order is kept.
#define LOG_BATCH_MAX (64 * 1024)
static char batch[LOG_BATCH_MAX];
static size_t batch_len;
static int batching;
static hilt_log_writer_t writer;
static void *writer_data;

void hilt_log_set_writer(hilt_log_writer_t fn, void *data)
{
  hilt_log_flush();
  writer = fn;
  writer_data = data;
}

static void put(const char *s, size_t n)
{
  if (writer != NULL) {
    writer(writer_data, s, n);
    return;
  }
  fwrite(s, 1, n, stderr);
  fflush(stderr);
}

void hilt_log_batch(int on)
{
  hilt_log_flush();
  batching = on;
}

void hilt_log_flush(void)
{
  if (batch_len > 0) {
    put(batch, batch_len);
    batch_len = 0;
  }
}

static void put_line(hilt_log_level_t level, const char *line, size_t n)
{
  if (batching && level < HILT_LOG_WARN && n <= LOG_BATCH_MAX) {
    if (batch_len + n > LOG_BATCH_MAX) {
      hilt_log_flush();
    }
    memcpy(batch + batch_len, line, n);
    batch_len += n;
    return;
  }
  hilt_log_flush();
  put(line, n);
}

void hilt_log_write(hilt_log_level_t level, const char *source,
                    const char *msg)
{
  if (!hilt_log_enabled(level)) {
    return;
  }
  static const char *const tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
  char stamp[40];
  format_time(stamp, sizeof stamp);
  size_t len = strlen(msg);
  size_t size = len + strlen(stamp) + (source ? strlen(source) : 0) + 16;
  char small[512];
  char *line = size <= sizeof small ? small : malloc(size);
  if (line == NULL) {
    return;
  }
  int n = snprintf(line, size, "%s %s %s%s%s\n", stamp, tags[level],
                   source ? source : "", source ? ": " : "", msg);
  put_line(level, line, (size_t)n);
  if (line != small) {
    free(line);
  }
}

void hilt_logv(hilt_log_level_t level, const char *source, const char *fmt,
               va_list ap)
{
  if (!hilt_log_enabled(level)) {
    return;
  }
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  hilt_log_write(level, source, msg);
}

void hilt_log(hilt_log_level_t level, const char *source, const char *fmt,
              ...)
{
  va_list ap;
  va_start(ap, fmt);
  hilt_logv(level, source, fmt, ap);
  va_end(ap);
}
