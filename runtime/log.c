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

// Formats "2026-11-21T15:04:05.123Z" (UTC) into buf.
static void format_time(char *buf, size_t size)
{
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
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
  fwrite(line, 1, (size_t)n, stderr);
  fflush(stderr);
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
