// Unit tests of runtime/mpk_path.c: the paths printed in msgpack errors.
#include <string.h>

#include "check.h"
#include "mpk_path.h"

static void test_steps(void)
{
  mpk_path_t p;
  mpk_path_init(&p);
  CHECK(strcmp(mpk_path_get(&p), "value") == 0);
  // Steps are added innermost first, as the recursion unwinds.
  mpk_path_key(&p, "cb", 2);
  mpk_path_index(&p, 2);
  mpk_path_key(&p, "params", 6);
  CHECK(strcmp(mpk_path_get(&p), "value.params[2].cb") == 0);
  mpk_path_init(&p);
  mpk_path_text(&p, "[true]");
  mpk_path_number(&p, 1.5);
  mpk_path_uindex(&p, UINT64_MAX);
  mpk_path_index(&p, -7);
  CHECK(strcmp(mpk_path_get(&p),
               "value[-7][18446744073709551615][1.5][true]") == 0);
}

static void test_keys(void)
{
  mpk_path_t p;
  mpk_path_init(&p);
  mpk_path_key(&p, "a b", 3);
  CHECK(strcmp(mpk_path_get(&p), "value[\"a b\"]") == 0);
  mpk_path_init(&p);
  mpk_path_key(&p, "1x", 2);
  CHECK(strcmp(mpk_path_get(&p), "value[\"1x\"]") == 0);
  mpk_path_init(&p);
  mpk_path_key(&p, "q\"\\\n\0", 5);
  CHECK(strcmp(mpk_path_get(&p), "value[\"q\\\"\\\\\\x0a\\x00\"]") == 0);
  mpk_path_init(&p);
  mpk_path_key(&p, "", 0);
  CHECK(strcmp(mpk_path_get(&p), "value[\"\"]") == 0);
  mpk_path_init(&p);
  const char *long_key = "0123456789012345678901234567890123456789";
  mpk_path_key(&p, long_key, strlen(long_key));
  CHECK(strcmp(mpk_path_get(&p),
               "value[\"01234567890123456789012345678901...\"]") == 0);
  mpk_path_init(&p);
  mpk_path_key(&p, "_Under_1", 8);
  CHECK(strcmp(mpk_path_get(&p), "value._Under_1") == 0);
}

// A path too long to print keeps its innermost steps.
static void test_truncation(void)
{
  mpk_path_t p;
  mpk_path_init(&p);
  mpk_path_key(&p, "leaf", 4);
  for (int i = 0; i < 100; i++) {
    mpk_path_index(&p, 12345);
  }
  const char *s = mpk_path_get(&p);
  CHECK(strncmp(s, "value...[12345]", 15) == 0);
  CHECK(strcmp(s + strlen(s) - 5, ".leaf") == 0);
  CHECK(strlen(s) < MPK_PATH_SIZE);
  CHECK(p.truncated);
}

int main(void)
{
  test_steps();
  test_keys();
  test_truncation();
  return check_summary();
}
