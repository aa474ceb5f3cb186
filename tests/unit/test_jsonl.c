/* test_jsonl.c - check suite for src/jsonl.c: the strict JSONL record reader and the string escaper.
 *
 * The module is pure (no MPI), so every case runs identically on every rank; the suite still runs as
 * a singleton and under mpirun like the others. Expected values are written out by hand (UTF-8 bytes
 * of each escape, error offsets counted in the literal). The "real data" case parses
 * $WN_FIORI_DIR/records.jsonl when that file exists (setup.sh test exports it) and is skipped otherwise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/jsonl.h>
#include "wn_test.h"

/* Parse a NUL-terminated line; returns the status. */
static wn_jsonl_status parse(wn_jsonl_record *rec, const char *line)
{
  wn_jsonl_status st;
  PetscErrorCode  ierr = wn_jsonl_parse(rec, line, strlen(line), &st);
  ck_assert_int_eq(ierr, 0);
  return st;
}

/* Expect line to be rejected at byte offset off, with reason containing word. */
static void expect_bad(const char *line, size_t len, size_t off, const char *word)
{
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st, st2;
  int64_t          n = -1;

  WN_CK_OK(wn_jsonl_record_create(&rec));
  WN_CK_OK(wn_jsonl_parse(rec, line, len, &st));
  ck_assert_msg(!st.valid, "line accepted but should be rejected: %.60s", line);
  ck_assert_msg(st.offset == off, "line %.60s: error at offset %zu (%s), expected %zu", line, st.offset, st.reason, off);
  ck_assert_msg(strstr(st.reason, word) != NULL, "line %.60s: reason '%s' does not mention '%s'", line, st.reason, word);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 0);
  WN_CK_OK(wn_jsonl_validate(line, len, &st2));
  ck_assert(!st2.valid && st2.offset == st.offset && st2.reason == st.reason);
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
  ck_assert_ptr_null(rec);
}
#define EXPECT_BAD(lit, off, word) expect_bad(lit, sizeof(lit) - 1, off, word)

static void expect_good(const char *line, size_t len)
{
  wn_jsonl_status st;
  WN_CK_OK(wn_jsonl_validate(line, len, &st));
  ck_assert_msg(st.valid, "line rejected at %zu (%s): %.80s", st.offset, st.reason, line);
}
#define EXPECT_GOOD(lit) expect_good(lit, sizeof(lit) - 1)

/* Decoded string member must equal the given bytes exactly. */
static void expect_string(wn_jsonl_record *rec, const char *key, const char *bytes, size_t n)
{
  wn_json_type type;
  size_t       len = 99;
  char        *buf = NULL;

  WN_CK_OK(wn_jsonl_get_string(rec, key, &type, NULL, 0, &len));
  ck_assert_int_eq(type, WN_JSON_STRING);
  ck_assert_msg(len == n, "member %s decodes to %zu bytes, expected %zu", key, len, n);
  WN_CK_OK(wn_jsonl_get_string_alloc(rec, key, &type, &buf, &len));
  ck_assert_uint_eq(len, n);
  ck_assert_msg(!memcmp(buf, bytes, n), "member %s decodes to the wrong bytes", key);
  ck_assert_int_eq(buf[n], 0);
  WN_CK_OK(PetscFree(buf));
}

START_TEST(types_and_raw_spans)
{
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;
  wn_json_span     raw, key;
  double           v;
  int64_t          n;
  char             buf[16];
  size_t           len;
  const char      *line = " {\"s\":\"hi\", \"n\" : -12.5e1,\"t\":true,\"f\":false,\"z\":null,"
                          "\"a\":[1,[2,{\"x\":[]}],\"]\"],\"o\":{\"k\":{\"k2\":\"}\"}} }\r\n";

  WN_CK_OK(wn_jsonl_record_create(&rec));
  st = parse(rec, line);
  ck_assert_msg(st.valid, "rejected at %zu: %s", st.offset, st.reason);
  ck_assert_str_eq(st.reason, "");
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 7);
  WN_CK_OK(wn_jsonl_get_number(rec, "n", &type, &v));
  ck_assert_int_eq(type, WN_JSON_NUMBER);
  ck_assert(v == -125.0);
  WN_CK_OK(wn_jsonl_get_raw(rec, "n", &type, &raw));
  ck_assert_uint_eq(raw.len, 7);
  ck_assert(!memcmp(raw.ptr, "-12.5e1", 7));
  WN_CK_OK(wn_jsonl_get_raw(rec, "t", &type, NULL));
  ck_assert_int_eq(type, WN_JSON_TRUE);
  WN_CK_OK(wn_jsonl_get_raw(rec, "f", &type, NULL));
  ck_assert_int_eq(type, WN_JSON_FALSE);
  WN_CK_OK(wn_jsonl_get_raw(rec, "z", &type, &raw));
  ck_assert_int_eq(type, WN_JSON_NULL);
  ck_assert(raw.len == 4 && !memcmp(raw.ptr, "null", 4));
  WN_CK_OK(wn_jsonl_get_raw(rec, "a", &type, &raw));
  ck_assert_int_eq(type, WN_JSON_ARRAY);
  ck_assert(raw.len == strlen("[1,[2,{\"x\":[]}],\"]\"]") && !memcmp(raw.ptr, "[1,[2,{\"x\":[]}],\"]\"]", raw.len));
  WN_CK_OK(wn_jsonl_get_raw(rec, "o", &type, &raw));
  ck_assert_int_eq(type, WN_JSON_OBJECT);
  ck_assert(raw.len == strlen("{\"k\":{\"k2\":\"}\"}}") && !memcmp(raw.ptr, "{\"k\":{\"k2\":\"}\"}}", raw.len));
  WN_CK_OK(wn_jsonl_get_raw(rec, "s", &type, &raw));
  ck_assert_int_eq(type, WN_JSON_STRING);
  ck_assert(raw.len == 4 && !memcmp(raw.ptr, "\"hi\"", 4));
  WN_CK_OK(wn_jsonl_get_string(rec, "s", &type, buf, sizeof(buf), &len));
  ck_assert_str_eq(buf, "hi");
  ck_assert_uint_eq(len, 2);
  /* a non-string member: type reported, empty text, NaN for non-numbers */
  WN_CK_OK(wn_jsonl_get_string(rec, "n", &type, buf, sizeof(buf), &len));
  ck_assert_int_eq(type, WN_JSON_NUMBER);
  ck_assert(len == 0 && buf[0] == 0);
  WN_CK_OK(wn_jsonl_get_number(rec, "s", &type, &v));
  ck_assert(type == WN_JSON_STRING && isnan(v));
  /* members in line order */
  WN_CK_OK(wn_jsonl_member(rec, 6, &key, &raw, &type));
  ck_assert(key.len == 3 && !memcmp(key.ptr, "\"o\"", 3) && type == WN_JSON_OBJECT);
  ck_assert_int_ne(wn_jsonl_member(rec, 7, &key, &raw, &type), 0);
  ck_assert_int_ne(wn_jsonl_member(rec, -1, &key, &raw, &type), 0);
  ck_assert_str_eq(wn_json_type_name(WN_JSON_OBJECT), "object");
  ck_assert_str_eq(wn_json_type_name(WN_JSON_MISSING), "missing");
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
  WN_CK_OK(wn_jsonl_record_destroy(&rec)); /* idempotent */
  WN_CK_OK(wn_jsonl_record_destroy(NULL));
}
END_TEST

START_TEST(escapes)
{
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;

  WN_CK_OK(wn_jsonl_record_create(&rec));
  st = parse(rec, "{\"e\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t.\"}");
  ck_assert(st.valid);
  expect_string(rec, "e", "q\" b\\ s/ \b\f\n\r\t.", 15);
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
}
END_TEST

START_TEST(unicode)
{
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;
  size_t           len;
  double           v;

  WN_CK_OK(wn_jsonl_record_create(&rec));
  /* \u escapes of 1-, 2-, 3-byte code points, a surrogate pair (U+1F600), upper-case hex, raw UTF-8 */
  st = parse(rec, "{\"a\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"nul\":\"x\\u0000y\","
                  "\"top\":\"\\uDBFF\\uDFFF\\uFFFF\\u0800\\u07FF\"}");
  ck_assert_msg(st.valid, "rejected at %zu: %s", st.offset, st.reason);
  expect_string(rec, "a", "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
  expect_string(rec, "raw", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
  expect_string(rec, "nul", "x\0y", 3); /* embedded NUL, length says 3 */
  expect_string(rec, "top", "\xf4\x8f\xbf\xbf\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf", 12);
  /* keys compare after decoding: "\u00e9t\u00e9" is "été"; an escaped ASCII key too */
  st = parse(rec, "{\"\\u00e9t\\u00e9\":1,\"a\\u0062\":2,\"\xc3\xa9\":3}");
  ck_assert(st.valid);
  WN_CK_OK(wn_jsonl_get_number(rec, "\xc3\xa9t\xc3\xa9", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && v == 1.0);
  WN_CK_OK(wn_jsonl_get_number(rec, "ab", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && v == 2.0);
  WN_CK_OK(wn_jsonl_get_number(rec, "\xc3\xa9", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && v == 3.0);
  WN_CK_OK(wn_jsonl_get_number(rec, "a", &type, &v)); /* prefix of "ab" is not a match */
  ck_assert_int_eq(type, WN_JSON_MISSING);
  WN_CK_OK(wn_jsonl_get_number(rec, "abc", &type, &v));
  ck_assert_int_eq(type, WN_JSON_MISSING);
  /* wn_json_string_decode on a span */
  {
    char buf[8];
    WN_CK_OK(wn_json_string_decode("\"\\u00e9!\"", 9, buf, sizeof(buf), &len));
    ck_assert_uint_eq(len, 3);
    ck_assert_str_eq(buf, "\xc3\xa9!");
    ck_assert_int_ne(wn_json_string_decode("\"abc", 4, NULL, 0, &len), 0);
    ck_assert_int_ne(wn_json_string_decode("\"a\"b", 4, NULL, 0, &len), 0);
    ck_assert_int_ne(wn_json_string_decode("abc", 3, NULL, 0, &len), 0);
    ck_assert_int_ne(wn_json_string_decode("\"\\u00e9!\"", 9, buf, 3, &len), 0); /* needs 4 */
  }
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
}
END_TEST

START_TEST(numbers)
{
  wn_jsonl_record *rec = NULL;
  wn_json_type     type;
  double           v;

  EXPECT_GOOD("{\"a\":0,\"b\":-0,\"c\":1.5e-3,\"d\":1E+2,\"e\":12345678901234567890,\"f\":0.0e0,\"g\":[-1,2e10]}");
  WN_CK_OK(wn_jsonl_record_create(&rec));
  ck_assert(parse(rec, "{\"c\":1.5e-3,\"d\":1E+2,\"h\":1e999,\"long\":0.00000000000000000000000000000000000000000000000000000000000000000000000000000125}").valid);
  WN_CK_OK(wn_jsonl_get_number(rec, "c", &type, &v));
  ck_assert(v == 1.5e-3);
  WN_CK_OK(wn_jsonl_get_number(rec, "d", &type, &v));
  ck_assert(v == 100.0);
  WN_CK_OK(wn_jsonl_get_number(rec, "h", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && isinf(v) && v > 0);
  WN_CK_OK(wn_jsonl_get_number(rec, "long", &type, &v));
  ck_assert_double_eq_tol(v, 1.25e-78, 1e-90);
  WN_CK_OK(wn_jsonl_get_number(rec, "nope", &type, &v));
  ck_assert(type == WN_JSON_MISSING && isnan(v));
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
  EXPECT_BAD("{\"a\":01}", 6, "leading zeros");
  EXPECT_BAD("{\"a\":1.}", 7, "after '.'");
  EXPECT_BAD("{\"a\":.5}", 5, "expected a value");
  EXPECT_BAD("{\"a\":-}", 6, "expected a digit");
  EXPECT_BAD("{\"a\":1e}", 7, "exponent");
  EXPECT_BAD("{\"a\":+1}", 5, "expected a value");
  EXPECT_BAD("{\"a\":0x10}", 6, "expected ',' or '}'");
  EXPECT_BAD("{\"a\":NaN}", 5, "expected a value");
  EXPECT_BAD("{\"a\":tru}", 5, "invalid literal");
  EXPECT_BAD("{\"a\":nul", 5, "invalid literal");
  EXPECT_BAD("{\"a\":truex}", 9, "expected ',' or '}'");
}
END_TEST

START_TEST(malformed)
{
  /* offsets are 0-based byte positions in the literal */
  EXPECT_BAD("{\"a\":\"abc}", 5, "unterminated string");
  EXPECT_BAD("{\"a\":\"abc\\", 5, "unterminated string");
  EXPECT_BAD("{\"a\":1} x", 8, "after the JSON object");
  EXPECT_BAD("{\"a\":1}{}", 7, "after the JSON object");
  EXPECT_BAD("{\"a\" 1}", 5, "expected ':'");
  EXPECT_BAD("{\"a\"}", 4, "expected ':'");
  EXPECT_BAD("{\"a\":\"x\\qy\"}", 7, "invalid escape");
  EXPECT_BAD("{\"a\":\"\\u12G4\"}", 6, "4 hex digits");
  EXPECT_BAD("{\"a\":\"\\u12\"}", 6, "4 hex digits");
  EXPECT_BAD("{\"a\":\"x\ty\"}", 7, "control character");
  EXPECT_BAD("{\"a\":\"x\ny\"}", 7, "control character");
  EXPECT_BAD("{\"a\":\"\\ud83d\"}", 6, "high surrogate");
  EXPECT_BAD("{\"a\":\"\\ud83dx\\ude00\"}", 6, "high surrogate");
  EXPECT_BAD("{\"a\":\"\\ud83d\\u0041\"}", 6, "high surrogate");
  EXPECT_BAD("{\"a\":\"\\ude00\"}", 6, "low surrogate");
  EXPECT_BAD("{\"a\":1,}", 7, "member name");
  EXPECT_BAD("{,}", 1, "member name");
  EXPECT_BAD("{a:1}", 1, "member name");
  EXPECT_BAD("{'a':1}", 1, "member name");
  EXPECT_BAD("{\"a\":1", 6, "end of line");
  EXPECT_BAD("{\"a\":", 5, "end of line");
  EXPECT_BAD("{\"a\":[1,2}", 9, "',' or ']'");
  EXPECT_BAD("{\"a\":[1,]}", 8, "expected a value");
  EXPECT_BAD("[1,2]", 0, "must be a JSON object");
  EXPECT_BAD("\"str\"", 0, "must be a JSON object");
  EXPECT_BAD("", 0, "empty line");
  EXPECT_BAD("  \r\n", 4, "empty line");
  EXPECT_BAD("{\"a\":1}\x00", 7, "after the JSON object"); /* explicit length includes the NUL */
  /* invalid UTF-8: the offset is the first byte of the bad sequence */
  EXPECT_BAD("{\"a\":\"ok\xc3(\"}", 8, "UTF-8");             /* bad continuation */
  EXPECT_BAD("{\"a\":\"\xc0\xaf\"}", 6, "UTF-8");            /* overlong '/' */
  EXPECT_BAD("{\"a\":\"\xe0\x80\xaf\"}", 6, "UTF-8");        /* overlong 3-byte */
  EXPECT_BAD("{\"a\":\"\xed\xa0\x80\"}", 6, "UTF-8");        /* encoded surrogate U+D800 */
  EXPECT_BAD("{\"a\":\"\xf4\x90\x80\x80\"}", 6, "UTF-8");    /* above U+10FFFF */
  EXPECT_BAD("{\"a\":\"\xf5\x80\x80\x80\"}", 6, "UTF-8");
  EXPECT_BAD("{\"a\":\"\x80\"}", 6, "UTF-8");                /* stray continuation */
  EXPECT_BAD("{\"a\":\"\xe2\x82\"}", 6, "UTF-8");            /* truncated before the quote */
  EXPECT_BAD("{\"a\":\"\xe2\x82", 6, "UTF-8");               /* truncated at the end of the line */
  EXPECT_BAD("{\"\xff\":1}", 2, "UTF-8");                    /* in a key */
  EXPECT_BAD("{\"a\":1}\xc3\xa9", 7, "after the JSON object"); /* raw UTF-8 outside strings */
  /* whitespace that JSON does not allow */
  EXPECT_BAD("{\"a\":1,\v\"b\":2}", 7, "member name");
  EXPECT_GOOD(" \t{ \"a\" \t: \r\n 1 } \r\n");
  EXPECT_GOOD("{\"a\":\"\x7f\"}"); /* DEL is not a control character in JSON */
}
END_TEST

START_TEST(empty_missing_duplicates)
{
  wn_jsonl_record *rec = NULL;
  wn_json_type     type;
  wn_json_span     raw;
  int64_t          n;
  double           v;
  char             buf[4] = "zz";
  size_t           len;

  WN_CK_OK(wn_jsonl_record_create(&rec));
  ck_assert(parse(rec, "{}").valid);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 0);
  ck_assert(parse(rec, " { \n } ").valid);
  WN_CK_OK(wn_jsonl_get_raw(rec, "a", &type, &raw));
  ck_assert(type == WN_JSON_MISSING && raw.len == 0);
  WN_CK_OK(wn_jsonl_get_string(rec, "a", &type, buf, sizeof(buf), &len));
  ck_assert(type == WN_JSON_MISSING && len == 0 && buf[0] == 0);
  /* duplicate keys: the first one wins, both are listed */
  ck_assert(parse(rec, "{\"k\":1,\"x\":{\"k\":9},\"k\":2,\"k\":\"three\"}").valid);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 4);
  WN_CK_OK(wn_jsonl_get_number(rec, "k", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && v == 1.0);
  /* a key is not found inside nested objects */
  WN_CK_OK(wn_jsonl_get_raw(rec, "x", &type, &raw));
  ck_assert_int_eq(type, WN_JSON_OBJECT);
  /* after an invalid line the record holds nothing */
  ck_assert(!parse(rec, "{\"k\":").valid);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 0);
  WN_CK_OK(wn_jsonl_get_number(rec, "k", &type, &v));
  ck_assert_int_eq(type, WN_JSON_MISSING);
  /* too small a buffer is an error, a size query is not */
  ck_assert(parse(rec, "{\"s\":\"abcd\"}").valid);
  ck_assert_int_ne(wn_jsonl_get_string(rec, "s", &type, buf, sizeof(buf), &len), 0);
  WN_CK_OK(wn_jsonl_get_string(rec, "s", &type, NULL, 0, &len));
  ck_assert_uint_eq(len, 4);
  /* the line need not be NUL-terminated: parse a prefix of a longer buffer */
  {
    const char      *text = "{\"n\":12}{\"n\":34}";
    wn_jsonl_status  st;
    WN_CK_OK(wn_jsonl_parse(rec, text, 8, &st));
    ck_assert(st.valid);
    WN_CK_OK(wn_jsonl_get_number(rec, "n", &type, &v));
    ck_assert(v == 12.0);
  }
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
}
END_TEST

START_TEST(long_and_deep_lines)
{
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;
  const size_t     big = 3u << 20; /* 3 MiB string value */
  const int        n_members = 5000;
  size_t           cap = big + 64 + (size_t)n_members * 24, pos = 0, len;
  char            *line, *text = NULL;
  int64_t          n;
  double           v;

  WN_CK_OK(PetscMalloc1(cap, &line));
  pos += (size_t)sprintf(line + pos, "{\"text\":\"");
  /* body: letters, with bytes 999, 1999, ... starting a "\\n" escape (big % 1000 != 999, so none is cut) */
  for (size_t i = 0; i < big; i++) line[pos++] = (i % 1000 == 999) ? '\\' : (i % 1000 == 0 && i) ? 'n' : (char)('a' + i % 26);
  pos += (size_t)sprintf(line + pos, "\"");
  for (int m = 0; m < n_members; m++) pos += (size_t)sprintf(line + pos, ",\"k%d\":%d", m, m);
  line[pos++] = '}';
  WN_CK_OK(wn_jsonl_record_create(&rec));
  WN_CK_OK(wn_jsonl_parse(rec, line, pos, &st));
  ck_assert_msg(st.valid, "long line rejected at %zu: %s", st.offset, st.reason);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, n_members + 1);
  WN_CK_OK(wn_jsonl_get_number(rec, "k4999", &type, &v));
  ck_assert(type == WN_JSON_NUMBER && v == 4999.0);
  WN_CK_OK(wn_jsonl_get_string_alloc(rec, "text", &type, &text, &len));
  ck_assert_uint_eq(len, big - big / 1000); /* each of the big/1000 "\\n" pairs decodes to one byte */
  ck_assert(text[998] == 'a' + 998 % 26 && text[999] == '\n' && text[1000] == 'a' + 1001 % 26);
  WN_CK_OK(PetscFree(text));
  /* a second, short line reuses the table */
  ck_assert(parse(rec, "{\"only\":1}").valid);
  WN_CK_OK(wn_jsonl_n_members(rec, &n));
  ck_assert_int_eq(n, 1);
  WN_CK_OK(wn_jsonl_record_destroy(&rec));

  /* nesting: exactly WN_JSON_MAX_DEPTH levels is fine, one more is rejected at the extra bracket */
  for (int extra = 0; extra <= 1; extra++) {
    int depth = WN_JSON_MAX_DEPTH + extra; /* levels including the record */
    pos       = 0;
    pos += (size_t)sprintf(line + pos, "{\"a\":");
    for (int d = 1; d < depth; d++) line[pos++] = '[';
    for (int d = 1; d < depth; d++) line[pos++] = ']';
    line[pos++] = '}';
    WN_CK_OK(wn_jsonl_validate(line, pos, &st));
    if (!extra) ck_assert_msg(st.valid, "depth %d rejected: %s", depth, st.reason);
    else {
      ck_assert(!st.valid);
      ck_assert_uint_eq(st.offset, 5 + (size_t)(depth - 2));
      ck_assert(strstr(st.reason, "nesting") != NULL);
    }
  }
  WN_CK_OK(PetscFree(line));
}
END_TEST

START_TEST(escaper)
{
  char         buf[64], *all;
  size_t       len;
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;

  WN_CK_OK(wn_json_escape("a\"b\\c\n\t\x01\x1f/\x7f", 11, buf, sizeof(buf), &len));
  ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\x7f\"");
  ck_assert_uint_eq(len, strlen(buf));
  WN_CK_OK(wn_json_escape("", 0, buf, sizeof(buf), &len));
  ck_assert_str_eq(buf, "\"\"");
  /* valid UTF-8 passes through, invalid bytes become U+FFFD, NUL becomes \u0000 */
  WN_CK_OK(wn_json_escape("\xc3\xa9\xff\xe2\x82x\0", 7, buf, sizeof(buf), &len));
  ck_assert_str_eq(buf, "\"\xc3\xa9\\ufffd\\ufffd\\ufffdx\\u0000\"");
  /* size query and too-small buffer */
  WN_CK_OK(wn_json_escape("ab\n", 3, NULL, 0, &len));
  ck_assert_uint_eq(len, 6);
  ck_assert_int_ne(wn_json_escape("ab\n", 3, buf, 6, &len), 0);
  WN_CK_OK(wn_json_escape("ab\n", 3, buf, 7, &len));

  /* round trip: every byte value 1..255 plus NUL, then parse it back inside a record */
  {
    unsigned char in[300];
    size_t        n_in = 0, need, out_len;
    char         *line, *out;
    for (int c = 0; c < 128; c++) in[n_in++] = (unsigned char)c;
    memcpy(in + n_in, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    n_in += 9;
    WN_CK_OK(wn_json_escape((const char *)in, n_in, NULL, 0, &need));
    WN_CK_OK(PetscMalloc1(need + 16, &line));
    memcpy(line, "{\"k\":", 5);
    WN_CK_OK(wn_json_escape((const char *)in, n_in, line + 5, need + 1, &len));
    memcpy(line + 5 + len, "}", 2);
    WN_CK_OK(wn_jsonl_record_create(&rec));
    WN_CK_OK(wn_jsonl_parse(rec, line, strlen(line), &st));
    ck_assert_msg(st.valid, "escaped text rejected at %zu: %s", st.offset, st.reason);
    WN_CK_OK(wn_jsonl_get_string_alloc(rec, "k", &type, &out, &out_len));
    ck_assert_uint_eq(out_len, n_in);
    ck_assert(!memcmp(out, in, n_in));
    WN_CK_OK(PetscFree(out));
    WN_CK_OK(PetscFree(line));
  }
  /* invalid bytes 0x80..0xff each become one U+FFFD: the output still parses */
  WN_CK_OK(PetscMalloc1(128 * 6 + 16, &all));
  {
    unsigned char hi[128];
    for (int c = 0; c < 128; c++) hi[c] = (unsigned char)(0x80 + c);
    memcpy(all, "{\"k\":", 5);
    WN_CK_OK(wn_json_escape((const char *)hi, 128, all + 5, 128 * 6 + 3, &len));
    /* C2..F4 followed by an invalid continuation: all 128 bytes are replaced */
    ck_assert_uint_eq(len, 2 + 128 * 6);
    memcpy(all + 5 + len, "}", 2);
    WN_CK_OK(wn_jsonl_parse(rec, all, strlen(all), &st));
    ck_assert(st.valid);
  }
  WN_CK_OK(PetscFree(all));
  /* the stream writer produces the same bytes */
  {
    char  *mem = NULL;
    size_t mem_len = 0;
    FILE  *fp = open_memstream(&mem, &mem_len);
    ck_assert_ptr_nonnull(fp);
    WN_CK_OK(wn_json_write_string(fp, "x\"\xff\n\xc3\xa9", 6));
    fclose(fp);
    WN_CK_OK(wn_json_escape("x\"\xff\n\xc3\xa9", 6, buf, sizeof(buf), &len));
    ck_assert_uint_eq(mem_len, len);
    ck_assert(!memcmp(mem, buf, len));
    free(mem);
  }
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
}
END_TEST

/* The real fiori records (npm @sap-ux/fiori-docs-embeddings 1.2.6): 778 lines, every one a valid
 * object with string id/category/content; skipped when the data has not been fetched. */
START_TEST(real_fiori_records)
{
  const char      *dir = getenv("WN_FIORI_DIR");
  char             path[PETSC_MAX_PATH_LEN];
  FILE            *fp;
  char            *line = NULL;
  size_t           cap  = 0;
  ssize_t          got;
  long             n_lines = 0, n_portal = 0;
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;
  char             category[128];
  size_t           len;
  double           words;

  if (!dir || !dir[0]) return; /* not configured: nothing to check */
  snprintf(path, sizeof(path), "%s/records.jsonl", dir);
  fp = fopen(path, "rb");
  if (!fp) return;
  WN_CK_OK(wn_jsonl_record_create(&rec));
  while ((got = getline(&line, &cap, fp)) > 0) {
    n_lines++;
    WN_CK_OK(wn_jsonl_parse(rec, line, (size_t)got, &st));
    ck_assert_msg(st.valid, "%s line %ld rejected at byte %zu: %s", path, n_lines, st.offset, st.reason);
    WN_CK_OK(wn_jsonl_get_string(rec, "id", &type, NULL, 0, &len));
    ck_assert(type == WN_JSON_STRING && len > 0);
    WN_CK_OK(wn_jsonl_get_string(rec, "content", &type, NULL, 0, &len));
    ck_assert(type == WN_JSON_STRING && len > 0);
    WN_CK_OK(wn_jsonl_get_string(rec, "category", &type, category, sizeof(category), &len));
    ck_assert(type == WN_JSON_STRING);
    if (!strcmp(category, "Fiori Development Portal")) n_portal++;
    WN_CK_OK(wn_jsonl_get_number(rec, "wordCount", &type, &words));
    ck_assert(type == WN_JSON_NUMBER && words >= 0);
  }
  free(line);
  fclose(fp);
  ck_assert_int_eq(n_lines, 778);
  ck_assert_int_eq(n_portal, 89);
  WN_CK_OK(wn_jsonl_record_destroy(&rec));
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("jsonl");
  TCase *tc = tcase_create("pure");

  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, types_and_raw_spans);
  tcase_add_test(tc, escapes);
  tcase_add_test(tc, unicode);
  tcase_add_test(tc, numbers);
  tcase_add_test(tc, malformed);
  tcase_add_test(tc, empty_missing_duplicates);
  tcase_add_test(tc, long_and_deep_lines);
  tcase_add_test(tc, escaper);
  tcase_add_test(tc, real_fiori_records);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
