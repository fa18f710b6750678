// Unit tests of runtime/log.c: level parsing, filtering, line format.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

// Runs fn with stderr sent to a temporary file; returns what was written.
static char *capture(void (*fn)(void))
{
  static char out[4096];
  fflush(stderr);
  FILE *tmp = tmpfile();
  int saved = dup(2);
  dup2(fileno(tmp), 2);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(out, 1, sizeof out - 1, tmp);
  out[n] = '\0';
  fclose(tmp);
  return out;
}

static void log_two(void)
{
  hilt_log(HILT_LOG_DEBUG, "t", "hidden %d", 1);
  hilt_log(HILT_LOG_WARN, "power", "shown %d", 2);
}

static void log_multiline(void)
{
  hilt_log_write(HILT_LOG_ERROR, NULL, "line one\nline two");
}

static void test_parse(void)
{
  CHECK(hilt_log_parse("debug") == HILT_LOG_DEBUG);
  CHECK(hilt_log_parse("INFO") == HILT_LOG_INFO);
  CHECK(hilt_log_parse("warning") == HILT_LOG_WARN);
  CHECK(hilt_log_parse("off") == HILT_LOG_OFF);
  CHECK(hilt_log_parse("loud") == -1);
  CHECK(strcmp(hilt_log_name(HILT_LOG_ERROR), "error") == 0);
}

static void test_env(void)
{
  setenv("HILT_LOG", "error", 1);
  CHECK(hilt_log_init() == 0);
  CHECK(hilt_log_get_level() == HILT_LOG_ERROR);
  setenv("HILT_LOG", "bogus", 1);
  CHECK(hilt_log_init() == -1);
  CHECK(hilt_log_get_level() == HILT_LOG_ERROR);
  unsetenv("HILT_LOG");
}

static void test_filter_and_format(void)
{
  hilt_log_set_level(HILT_LOG_INFO);
  const char *out = capture(log_two);
  CHECK(strstr(out, "hidden") == NULL);
  CHECK(strstr(out, " WARN  power: shown 2\n") != NULL);
  // "2026-11-21T15:04:05.123Z": a UTC timestamp with milliseconds.
  CHECK(strlen(out) > 24 && out[4] == '-' && out[10] == 'T' &&
        out[19] == '.' && out[23] == 'Z');
  CHECK(hilt_log_enabled(HILT_LOG_INFO));
  CHECK(!hilt_log_enabled(HILT_LOG_DEBUG));
  hilt_log_set_level(HILT_LOG_OFF);
  CHECK(!hilt_log_enabled(HILT_LOG_ERROR));
  CHECK(strcmp(capture(log_two), "") == 0);
  hilt_log_set_level(HILT_LOG_DEBUG);
  out = capture(log_multiline);
  CHECK(strstr(out, "ERROR line one\nline two\n") != NULL);
}

int main(void)
{
  test_parse();
  test_env();
  test_filter_and_format();
  return check_summary();
}
