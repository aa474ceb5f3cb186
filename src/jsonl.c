/* jsonl.c - strict reader for one JSON Lines record (RFC 8259) and a JSON string escaper.
 *
 * Owns: the byte-level grammar (validation with offset + reason), the member table of the top-level
 * object, key lookup, string decoding (escapes, \uXXXX, surrogate pairs -> UTF-8), number conversion,
 * and escaping for output. Leaves to callers: files, line splitting, which keys mean what, and turning
 * an invalid line into a collective error (they know the file name and line number).
 *
 * The scanners below are plain static functions returning 1 (ok) or 0 (malformed input, recorded in the
 * parser): a malformed line is data, not a PETSc error, and the scanners cannot fail in any other way.
 * The public functions follow the PETSc conventions (PetscErrorCode, PetscCall).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/jsonl.h>

#define JSON_STR_(x) #x
#define JSON_STR(x)  JSON_STR_(x)

/* One top-level member: offsets into the line. */
typedef struct {
  size_t       key_off, key_len; /* raw key literal, quotes included */
  size_t       val_off, val_len; /* raw value text */
  wn_json_type type;
  int          key_escaped; /* the key literal contains a backslash: compare after decoding */
} json_member;

struct wn_jsonl_record {
  const char  *line;    /* borrowed: the last line parsed */
  size_t       len;     /* its length */
  json_member *members; /* capacity entries, owned */
  size_t       n_members, capacity;
};

/* Scanner state for one line. */
typedef struct {
  const unsigned char *s;
  size_t               len, pos;
  const char          *error;     /* first error, NULL while valid */
  size_t               error_off; /* its byte offset */
  json_member         *members;   /* top-level member table to fill (may be NULL) */
  size_t               capacity;  /* entries available in members */
  size_t               count;     /* top-level members seen (may exceed capacity: caller regrows) */
} json_parser;

static int json_fail(json_parser *p, size_t off, const char *why)
{
  if (!p->error) {
    p->error     = why;
    p->error_off = off;
  }
  return 0;
}

static void json_skip_ws(json_parser *p)
{
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

/* Length (1..4) of the valid UTF-8 sequence starting at s (avail bytes available), 0 if invalid:
 * rejects stray continuation bytes, overlong forms (C0, C1, E0 80-9F, F0 80-8F), UTF-16 surrogates
 * (ED A0-BF) and code points above U+10FFFF (F4 90+, F5-FF). */
static int json_utf8_len(const unsigned char *s, size_t avail)
{
  unsigned c = s[0], lo = 0x80, hi = 0xBF;

  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (avail >= 2 && s[1] >= 0x80 && s[1] <= 0xBF) ? 2 : 0;
  if (c < 0xF0) {
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    return (avail >= 3 && s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xBF) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    return (avail >= 4 && s[1] >= lo && s[1] <= hi && s[2] >= 0x80 && s[2] <= 0xBF && s[3] >= 0x80 && s[3] <= 0xBF) ? 4 : 0;
  }
  return 0;
}

static int json_hex_digit(unsigned char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at s[at..at+3] -> *v; 0 if fewer than 4 bytes remain or a digit is not hex. */
static int json_hex4(const unsigned char *s, size_t len, size_t at, unsigned *v)
{
  unsigned x = 0;

  if (at + 4 > len) return 0;
  for (int i = 0; i < 4; i++) {
    int d = json_hex_digit(s[at + i]);
    if (d < 0) return 0;
    x = (x << 4) | (unsigned)d;
  }
  *v = x;
  return 1;
}

/* A string literal at p->pos (which holds '"'); leaves pos after the closing quote. */
static int json_scan_string(json_parser *p)
{
  const unsigned char *s     = p->s;
  size_t               start = p->pos, len = p->len, pos = p->pos + 1;

  for (;;) {
    unsigned char c;
    /* fast path: plain printable ASCII */
    while (pos < len && s[pos] >= 0x20 && s[pos] < 0x80 && s[pos] != '"' && s[pos] != '\\') pos++;
    if (pos >= len) return json_fail(p, start, "unterminated string: no closing '\"' before the end of the line (offset is the opening quote)");
    c = s[pos];
    if (c == '"') {
      p->pos = pos + 1;
      return 1;
    }
    if (c < 0x20) return json_fail(p, pos, "raw control character in a string (must be escaped, e.g. \\n or \\u001f)");
    if (c >= 0x80) {
      int n = json_utf8_len(s + pos, len - pos);
      if (!n) return json_fail(p, pos, "invalid UTF-8 byte sequence in a string");
      pos += (size_t)n;
      continue;
    }
    /* backslash */
    if (pos + 1 >= len) return json_fail(p, start, "unterminated string: the line ends inside an escape (offset is the opening quote)");
    switch (s[pos + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      pos += 2;
      break;
    case 'u': {
      unsigned v = 0, w = 0;
      if (!json_hex4(s, len, pos + 2, &v)) return json_fail(p, pos, "invalid \\u escape: expected 4 hex digits");
      if (v >= 0xDC00 && v <= 0xDFFF) return json_fail(p, pos, "unpaired low surrogate \\uDC00-\\uDFFF (cannot be converted to UTF-8)");
      if (v >= 0xD800 && v <= 0xDBFF) {
        if (!(pos + 7 < len && s[pos + 6] == '\\' && s[pos + 7] == 'u' && json_hex4(s, len, pos + 8, &w) && w >= 0xDC00 && w <= 0xDFFF))
          return json_fail(p, pos, "high surrogate \\uD800-\\uDBFF not followed by a low surrogate \\uDC00-\\uDFFF");
        pos += 12;
      } else pos += 6;
      break;
    }
    default:
      return json_fail(p, pos, "invalid escape: after '\\' expected one of \" \\ / b f n r t u");
    }
  }
}

static int json_is_digit(const json_parser *p) { return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9'; }

/* A number at p->pos: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_scan_number(json_parser *p)
{
  if (p->s[p->pos] == '-') p->pos++;
  if (!json_is_digit(p)) return json_fail(p, p->pos, "invalid number: expected a digit");
  if (p->s[p->pos] == '0') {
    p->pos++;
    if (json_is_digit(p)) return json_fail(p, p->pos, "invalid number: leading zeros are not allowed");
  } else
    while (json_is_digit(p)) p->pos++;
  if (p->pos < p->len && p->s[p->pos] == '.') {
    p->pos++;
    if (!json_is_digit(p)) return json_fail(p, p->pos, "invalid number: expected a digit after '.'");
    while (json_is_digit(p)) p->pos++;
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    if (!json_is_digit(p)) return json_fail(p, p->pos, "invalid number: expected a digit in the exponent");
    while (json_is_digit(p)) p->pos++;
  }
  return 1;
}

static int json_scan_literal(json_parser *p, const char *word, size_t n)
{
  if (p->pos + n > p->len || memcmp(p->s + p->pos, word, n)) return json_fail(p, p->pos, "invalid literal: expected true, false or null");
  p->pos += n;
  return 1;
}

static int json_scan_value(json_parser *p, int depth, wn_json_type *type);

/* An object at p->pos ('{'); depth is its nesting level (the record is 1). At depth 1 the members are
 * recorded in p->members. */
static int json_scan_object(json_parser *p, int depth)
{
  if (depth > WN_JSON_MAX_DEPTH) return json_fail(p, p->pos, "nesting deeper than " JSON_STR(WN_JSON_MAX_DEPTH) " levels");
  p->pos++;
  json_skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    return 1;
  }
  for (;;) {
    size_t       key_off, val_off;
    wn_json_type type;

    json_skip_ws(p);
    if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of line: expected a member name (a string in double quotes)");
    if (p->s[p->pos] != '"') return json_fail(p, p->pos, "expected a member name (a string in double quotes)");
    key_off = p->pos;
    if (!json_scan_string(p)) return 0;
    if (depth == 1 && p->members && p->count < p->capacity) {
      json_member *m = &p->members[p->count];
      m->key_off     = key_off;
      m->key_len     = p->pos - key_off;
      m->key_escaped = memchr(p->s + key_off, '\\', m->key_len) != NULL;
    }
    json_skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') return json_fail(p, p->pos, "expected ':' after the member name");
    p->pos++;
    json_skip_ws(p);
    val_off = p->pos;
    if (!json_scan_value(p, depth, &type)) return 0;
    if (depth == 1) {
      if (p->members && p->count < p->capacity) {
        p->members[p->count].val_off = val_off;
        p->members[p->count].val_len = p->pos - val_off;
        p->members[p->count].type    = type;
      }
      p->count++;
    }
    json_skip_ws(p);
    if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of line: expected ',' or '}' after a member value");
    if (p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->s[p->pos] == '}') {
      p->pos++;
      return 1;
    }
    return json_fail(p, p->pos, "expected ',' or '}' after a member value");
  }
}

static int json_scan_array(json_parser *p, int depth)
{
  wn_json_type type;

  if (depth > WN_JSON_MAX_DEPTH) return json_fail(p, p->pos, "nesting deeper than " JSON_STR(WN_JSON_MAX_DEPTH) " levels");
  p->pos++;
  json_skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    return 1;
  }
  for (;;) {
    json_skip_ws(p);
    if (!json_scan_value(p, depth, &type)) return 0;
    json_skip_ws(p);
    if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of line: expected ',' or ']' after an array element");
    if (p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->s[p->pos] == ']') {
      p->pos++;
      return 1;
    }
    return json_fail(p, p->pos, "expected ',' or ']' after an array element");
  }
}

/* Any value at p->pos (whitespace already skipped); depth is the level of the enclosing container. */
static int json_scan_value(json_parser *p, int depth, wn_json_type *type)
{
  if (p->pos >= p->len) return json_fail(p, p->pos, "unexpected end of line: expected a value");
  switch (p->s[p->pos]) {
  case '{':
    *type = WN_JSON_OBJECT;
    return json_scan_object(p, depth + 1);
  case '[':
    *type = WN_JSON_ARRAY;
    return json_scan_array(p, depth + 1);
  case '"':
    *type = WN_JSON_STRING;
    return json_scan_string(p);
  case 't':
    *type = WN_JSON_TRUE;
    return json_scan_literal(p, "true", 4);
  case 'f':
    *type = WN_JSON_FALSE;
    return json_scan_literal(p, "false", 5);
  case 'n':
    *type = WN_JSON_NULL;
    return json_scan_literal(p, "null", 4);
  default:
    *type = WN_JSON_NUMBER;
    if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9')) return json_scan_number(p);
    return json_fail(p, p->pos, "expected a value (string, number, object, array, true, false or null)");
  }
}

/* The whole line: optional whitespace, one object, optional whitespace. */
static int json_scan_record(json_parser *p)
{
  json_skip_ws(p);
  if (p->pos >= p->len) return json_fail(p, p->pos, "empty line: expected a JSON object");
  if (p->s[p->pos] != '{') return json_fail(p, p->pos, "a JSONL record must be a JSON object: expected '{'");
  if (!json_scan_object(p, 1)) return 0;
  json_skip_ws(p);
  if (p->pos < p->len) return json_fail(p, p->pos, "unexpected characters after the JSON object");
  return 1;
}

static void json_parser_init(json_parser *p, const char *line, size_t len, json_member *members, size_t capacity)
{
  memset(p, 0, sizeof(*p));
  p->s        = (const unsigned char *)line;
  p->len      = len;
  p->members  = members;
  p->capacity = capacity;
}

static void json_status_set(const json_parser *p, int ok, wn_jsonl_status *status)
{
  status->valid  = ok ? PETSC_TRUE : PETSC_FALSE;
  status->offset = ok ? 0 : p->error_off;
  status->reason = ok ? "" : p->error;
}

/* Encode code point cp (valid, not a surrogate) as UTF-8 into out; returns the byte count. */
static int json_utf8_encode(unsigned cp, unsigned char *out)
{
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decode the next character of a VALIDATED literal body at raw[*i] into out (up to 4 bytes); advances *i. */
static int json_decode_next(const unsigned char *raw, size_t *i, unsigned char *out)
{
  unsigned v = 0, w = 0; /* set by json_hex4 on validated input */
  size_t   k = *i;

  if (raw[k] != '\\') {
    out[0] = raw[k];
    *i     = k + 1;
    return 1;
  }
  *i = k + 2;
  switch (raw[k + 1]) {
  case 'b': out[0] = '\b'; return 1;
  case 'f': out[0] = '\f'; return 1;
  case 'n': out[0] = '\n'; return 1;
  case 'r': out[0] = '\r'; return 1;
  case 't': out[0] = '\t'; return 1;
  case 'u':
    json_hex4(raw, k + 6, k + 2, &v);
    if (v >= 0xD800 && v <= 0xDBFF) {
      json_hex4(raw, k + 12, k + 8, &w);
      v  = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
      *i = k + 12;
    } else *i = k + 6;
    return json_utf8_encode(v, out);
  default: out[0] = raw[k + 1]; return 1; /* " \ / */
  }
}

/* Decode a VALIDATED literal (quotes included) into out (NULL: only count); returns the decoded length. */
static size_t json_decode_literal(const char *raw, size_t raw_len, char *out)
{
  const unsigned char *r = (const unsigned char *)raw;
  size_t               i = 1, n = 0, end = raw_len - 1;

  while (i < end) {
    if (r[i] != '\\') { /* copy a run of plain bytes at once */
      size_t j = i;
      while (j < end && r[j] != '\\') j++;
      if (out) memcpy(out + n, r + i, j - i);
      n += j - i;
      i = j;
    } else {
      unsigned char buf[4];
      int           m = json_decode_next(r, &i, buf);
      if (out) memcpy(out + n, buf, (size_t)m);
      n += (size_t)m;
    }
  }
  return n;
}

/* Does the VALIDATED key literal decode to exactly key[0, key_len)? */
static int json_key_equals(const char *raw, size_t raw_len, int escaped, const char *key, size_t key_len)
{
  const unsigned char *r = (const unsigned char *)raw;
  size_t               i = 1, n = 0, end = raw_len - 1;

  if (!escaped) return raw_len - 2 == key_len && !memcmp(raw + 1, key, key_len);
  while (i < end) {
    unsigned char buf[4];
    int           m = json_decode_next(r, &i, buf);
    if (n + (size_t)m > key_len || memcmp(key + n, buf, (size_t)m)) return 0;
    n += (size_t)m;
  }
  return n == key_len;
}

static const json_member *json_find(const wn_jsonl_record *rec, const char *key)
{
  size_t key_len = strlen(key);

  for (size_t i = 0; i < rec->n_members; i++) {
    const json_member *m = &rec->members[i];
    if (json_key_equals(rec->line + m->key_off, m->key_len, m->key_escaped, key, key_len)) return m;
  }
  return NULL;
}

/**
  @brief Create an empty, reusable record holder.

  Not collective.

  @param[out] rec  new holder (owned by the caller; free with wn_jsonl_record_destroy())
**/
PetscErrorCode wn_jsonl_record_create(wn_jsonl_record **rec)
{
  PetscFunctionBeginUser;
  PetscCheck(rec != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "output argument rec is NULL");
  PetscCall(PetscNew(rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a record holder and set *rec = NULL. Accepts NULL and *rec == NULL.

  Not collective.

  @param[in,out] rec  holder to free
**/
PetscErrorCode wn_jsonl_record_destroy(wn_jsonl_record **rec)
{
  PetscFunctionBeginUser;
  if (!rec || !*rec) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*rec)->members));
  PetscCall(PetscFree(*rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Validate one line as a single JSON object (RFC 8259) and index its top-level members.

  Not collective. A malformed line is reported in status (first error: offset and reason), not as a
  PETSc error, and leaves rec empty. The member table grows as needed and is reused for the next line.

  @param[in,out] rec     holder (owned by the caller); afterwards refers into line
  @param[in]     line    the record text (borrowed; need not be NUL-terminated; must outlive the use of rec)
  @param[in]     len     bytes of line
  @param[out]    status  validity, and the offset and reason of the first error
**/
PetscErrorCode wn_jsonl_parse(wn_jsonl_record *rec, const char *line, size_t len, wn_jsonl_status *status)
{
  json_parser p;
  int         ok;

  PetscFunctionBeginUser;
  PetscCheck(rec && status, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec and status must not be NULL");
  PetscCheck(line || len == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "line is NULL but len = %zu", len);
  rec->line      = line ? line : "";
  rec->len       = len;
  rec->n_members = 0;
  json_parser_init(&p, rec->line, len, rec->members, rec->capacity);
  ok = json_scan_record(&p);
  if (ok && p.count > rec->capacity) {
    /* More members than the table holds: grow it and scan again (once per growth, so amortised away). */
    size_t cap = PetscMax(p.count, 2 * rec->capacity);
    PetscCall(PetscFree(rec->members));
    PetscCall(PetscMalloc1(cap, &rec->members));
    rec->capacity = cap;
    json_parser_init(&p, rec->line, len, rec->members, rec->capacity);
    ok = json_scan_record(&p);
  }
  if (ok) rec->n_members = p.count;
  json_status_set(&p, ok, status);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Validate one line as a single JSON object without building a member table.

  Not collective.

  @param[in]  line    the record text (borrowed; need not be NUL-terminated)
  @param[in]  len     bytes of line
  @param[out] status  validity, and the offset and reason of the first error
**/
PetscErrorCode wn_jsonl_validate(const char *line, size_t len, wn_jsonl_status *status)
{
  json_parser p;

  PetscFunctionBeginUser;
  PetscCheck(status, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "status must not be NULL");
  PetscCheck(line || len == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "line is NULL but len = %zu", len);
  json_parser_init(&p, line ? line : "", len, NULL, 0);
  json_status_set(&p, json_scan_record(&p), status);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Number of top-level members of the last valid line (0 after an invalid one).

  Not collective.
**/
PetscErrorCode wn_jsonl_n_members(const wn_jsonl_record *rec, int64_t *n)
{
  PetscFunctionBeginUser;
  PetscCheck(rec && n, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec and n must not be NULL");
  *n = (int64_t)rec->n_members;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Member i (line order) as raw spans: the key literal with quotes and the value text.

  Not collective.

  @param[in]  rec    parsed record (borrowed)
  @param[in]  i      0 <= i < number of members
  @param[out] key    raw key literal (may be NULL)
  @param[out] value  raw value text (may be NULL)
  @param[out] type   JSON type of the value (may be NULL)
**/
PetscErrorCode wn_jsonl_member(const wn_jsonl_record *rec, int64_t i, wn_json_span *key, wn_json_span *value, wn_json_type *type)
{
  const json_member *m;

  PetscFunctionBeginUser;
  PetscCheck(rec, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec must not be NULL");
  PetscCheck(i >= 0 && (size_t)i < rec->n_members, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "member index %lld out of range [0, %zu)", (long long)i, rec->n_members);
  m = &rec->members[i];
  if (key) {
    key->ptr = rec->line + m->key_off;
    key->len = m->key_len;
  }
  if (value) {
    value->ptr = rec->line + m->val_off;
    value->len = m->val_len;
  }
  if (type) *type = m->type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Raw value text of the first member named key (keys compare after decoding escapes).

  Not collective.

  @param[in]  rec    parsed record (borrowed)
  @param[in]  key    member name, UTF-8, NUL-terminated
  @param[out] type   its type, WN_JSON_MISSING when absent
  @param[out] value  raw text (a string keeps its quotes); empty when absent; may be NULL
**/
PetscErrorCode wn_jsonl_get_raw(const wn_jsonl_record *rec, const char *key, wn_json_type *type, wn_json_span *value)
{
  const json_member *m;

  PetscFunctionBeginUser;
  PetscCheck(rec && key && type, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec, key and type must not be NULL");
  m     = json_find(rec, key);
  *type = m ? m->type : WN_JSON_MISSING;
  if (value) {
    value->ptr = m ? rec->line + m->val_off : rec->line;
    value->len = m ? m->val_len : 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Decoded UTF-8 text of the first member named key.

  Not collective. The buffer needed is *length + 1 bytes (a NUL is appended); pass buf = NULL to ask for
  the size. A member that is missing or not a string gives *length = 0 and buf = "".

  @param[in]  rec       parsed record (borrowed)
  @param[in]  key       member name, NUL-terminated
  @param[out] type      its type (WN_JSON_MISSING when absent)
  @param[out] buf       destination, or NULL
  @param[in]  buf_size  bytes available in buf
  @param[out] length    decoded bytes without the NUL (the text may contain NUL bytes from \u0000)
**/
PetscErrorCode wn_jsonl_get_string(const wn_jsonl_record *rec, const char *key, wn_json_type *type, char *buf, size_t buf_size, size_t *length)
{
  const json_member *m;
  size_t             n = 0;

  PetscFunctionBeginUser;
  PetscCheck(rec && key && type && length, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec, key, type and length must not be NULL");
  m     = json_find(rec, key);
  *type = m ? m->type : WN_JSON_MISSING;
  if (m && m->type == WN_JSON_STRING) n = json_decode_literal(rec->line + m->val_off, m->val_len, NULL);
  *length = n;
  if (buf) {
    PetscCheck(buf_size >= n + 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "buffer of %zu bytes is too small for member '%s' (needs %zu)", buf_size, key, n + 1);
    if (n) json_decode_literal(rec->line + m->val_off, m->val_len, buf);
    buf[n] = 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Decoded UTF-8 text of the first member named key, in a new buffer.

  Not collective.

  @param[in]  rec     parsed record (borrowed)
  @param[in]  key     member name
  @param[out] type    its type (WN_JSON_MISSING when absent)
  @param[out] text    new NUL-terminated text (owned by the caller: PetscFree), NULL unless a string
  @param[out] length  decoded bytes without the NUL (may be NULL)
**/
PetscErrorCode wn_jsonl_get_string_alloc(const wn_jsonl_record *rec, const char *key, wn_json_type *type, char **text, size_t *length)
{
  size_t n;

  PetscFunctionBeginUser;
  PetscCheck(text, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "text must not be NULL");
  *text = NULL;
  PetscCall(wn_jsonl_get_string(rec, key, type, NULL, 0, &n));
  if (length) *length = n;
  if (*type != WN_JSON_STRING) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(n + 1, text));
  PetscCall(wn_jsonl_get_string(rec, key, type, *text, n + 1, &n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The first member named key as a double.

  Not collective. Uses strtod on the validated number text (the program runs in the "C" locale unless it
  calls setlocale; PETSc does not). Magnitudes beyond double range become +-HUGE_VAL (or 0).

  @param[in]  rec    parsed record (borrowed)
  @param[in]  key    member name
  @param[out] type   its type (WN_JSON_MISSING when absent)
  @param[out] value  the number; NaN unless *type == WN_JSON_NUMBER
**/
PetscErrorCode wn_jsonl_get_number(const wn_jsonl_record *rec, const char *key, wn_json_type *type, double *value)
{
  const json_member *m;
  char               small[64], *text = small;

  PetscFunctionBeginUser;
  PetscCheck(rec && key && type && value, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "rec, key, type and value must not be NULL");
  m      = json_find(rec, key);
  *type  = m ? m->type : WN_JSON_MISSING;
  *value = NAN;
  if (!m || m->type != WN_JSON_NUMBER) PetscFunctionReturn(PETSC_SUCCESS);
  /* the line need not be NUL-terminated: copy the number so strtod stops where the grammar did */
  if (m->val_len >= sizeof(small)) PetscCall(PetscMalloc1(m->val_len + 1, &text));
  memcpy(text, rec->line + m->val_off, m->val_len);
  text[m->val_len] = 0;
  *value           = strtod(text, NULL);
  if (text != small) PetscCall(PetscFree(text));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Decode one raw JSON string literal (quotes included) to UTF-8.

  Not collective. Same buffer convention as wn_jsonl_get_string(); buf = NULL asks for the size.

  @param[in]  raw       the literal, e.g. a key or value span from wn_jsonl_member() (borrowed)
  @param[in]  raw_len   its bytes
  @param[out] buf       destination or NULL
  @param[in]  buf_size  bytes available in buf
  @param[out] length    decoded bytes without the NUL
**/
PetscErrorCode wn_json_string_decode(const char *raw, size_t raw_len, char *buf, size_t buf_size, size_t *length)
{
  json_parser p;
  size_t      n;

  PetscFunctionBeginUser;
  PetscCheck(raw && length, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "raw and length must not be NULL");
  json_parser_init(&p, raw, raw_len, NULL, 0);
  PetscCheck(raw_len >= 2 && raw[0] == '"', PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "not a JSON string literal: it must start with '\"'");
  PetscCheck(json_scan_string(&p), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "invalid JSON string literal at byte %zu: %s", p.error_off, p.error);
  PetscCheck(p.pos == raw_len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "text after the JSON string literal at byte %zu", p.pos);
  n       = json_decode_literal(raw, raw_len, NULL);
  *length = n;
  if (buf) {
    PetscCheck(buf_size >= n + 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "buffer of %zu bytes is too small for the decoded string (needs %zu)", buf_size, n + 1);
    json_decode_literal(raw, raw_len, buf);
    buf[n] = 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Escape sequence for byte c (< 0x20, '"' or '\\') into out (at most 6 bytes); returns its length. */
static size_t json_escape_byte(unsigned char c, char *out)
{
  static const char hex[] = "0123456789abcdef";

  switch (c) {
  case '"': memcpy(out, "\\\"", 2); return 2;
  case '\\': memcpy(out, "\\\\", 2); return 2;
  case '\b': memcpy(out, "\\b", 2); return 2;
  case '\f': memcpy(out, "\\f", 2); return 2;
  case '\n': memcpy(out, "\\n", 2); return 2;
  case '\r': memcpy(out, "\\r", 2); return 2;
  case '\t': memcpy(out, "\\t", 2); return 2;
  default:
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
  }
}

/* Length of the run of bytes at s[0, len) that pass through unchanged (valid UTF-8, no escapes needed). */
static size_t json_plain_run(const unsigned char *s, size_t len)
{
  size_t i = 0;

  while (i < len) {
    unsigned char c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == '"' || c == '\\') break;
      i++;
    } else {
      int n = json_utf8_len(s + i, len - i);
      if (!n) break;
      i += (size_t)n;
    }
  }
  return i;
}

/**
  @brief Escape bytes as a JSON string literal (quotes included); invalid UTF-8 bytes become \ufffd.

  Not collective. buf = NULL asks for the size; else buf_size must be >= *length + 1.

  @param[in]  s         bytes to escape (borrowed; may contain NUL)
  @param[in]  len       their count
  @param[out] buf       destination or NULL
  @param[in]  buf_size  bytes available in buf
  @param[out] length    bytes of the literal without the NUL
**/
PetscErrorCode wn_json_escape(const char *s, size_t len, char *buf, size_t buf_size, size_t *length)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t               i = 0, n = 2;

  PetscFunctionBeginUser;
  PetscCheck((s || len == 0) && length, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "s and length must not be NULL");
  /* pass 1: measure */
  while (i < len) {
    size_t run = json_plain_run(u + i, len - i);
    char   tmp[6];
    n += run;
    i += run;
    if (i >= len) break;
    if (u[i] >= 0x80) n += 6; /* \ufffd */
    else n += json_escape_byte(u[i], tmp);
    i++;
  }
  *length = n;
  if (!buf) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(buf_size >= n + 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "buffer of %zu bytes is too small for the escaped string (needs %zu)", buf_size, n + 1);
  /* pass 2: write */
  n        = 0;
  i        = 0;
  buf[n++] = '"';
  while (i < len) {
    size_t run = json_plain_run(u + i, len - i);
    memcpy(buf + n, s + i, run);
    n += run;
    i += run;
    if (i >= len) break;
    if (u[i] >= 0x80) {
      memcpy(buf + n, "\\ufffd", 6);
      n += 6;
    } else n += json_escape_byte(u[i], buf + n);
    i++;
  }
  buf[n++] = '"';
  buf[n]   = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Write bytes to a stream as a JSON string literal (same escaping as wn_json_escape()).

  Not collective.

  @param[in] fp   open stream (borrowed)
  @param[in] s    bytes to escape (borrowed)
  @param[in] len  their count
**/
PetscErrorCode wn_json_write_string(FILE *fp, const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t               i = 0;

  PetscFunctionBeginUser;
  PetscCheck(fp && (s || len == 0), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "fp and s must not be NULL");
  fputc('"', fp);
  while (i < len) {
    size_t run = json_plain_run(u + i, len - i);
    char   tmp[6];
    if (run) fwrite(s + i, 1, run, fp);
    i += run;
    if (i >= len) break;
    if (u[i] >= 0x80) fwrite("\\ufffd", 1, 6, fp);
    else fwrite(tmp, 1, json_escape_byte(u[i], tmp), fp);
    i++;
  }
  fputc('"', fp);
  PetscCheck(!ferror(fp), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "writing a JSON string failed (stream error)");
  PetscFunctionReturn(PETSC_SUCCESS);
}

const char *wn_json_type_name(wn_json_type type)
{
  switch (type) {
  case WN_JSON_MISSING: return "missing";
  case WN_JSON_NULL: return "null";
  case WN_JSON_FALSE: return "false";
  case WN_JSON_TRUE: return "true";
  case WN_JSON_NUMBER: return "number";
  case WN_JSON_STRING: return "string";
  case WN_JSON_ARRAY: return "array";
  case WN_JSON_OBJECT: return "object";
  }
  return "unknown";
}
