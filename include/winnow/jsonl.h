/* jsonl.h - a small, strict reader for one JSON Lines record, and a JSON string escaper for writing
 * records.
 *
 * Owns: validation of one line as exactly one JSON object (RFC 8259: strings with every escape,
 * \uXXXX and surrogate pairs decoded to UTF-8; numbers; true/false/null; nested arrays and objects up
 * to WN_JSON_MAX_DEPTH levels), with the byte offset and a reason for the first error; access to the
 * top-level members by key (decoded string, number, or raw value text); and escaping a byte string as
 * a JSON string literal. Pure: no MPI, no files (callers read lines and say which file and line an
 * error is in). The line is borrowed, never copied: spans point into it.
 * Leaves to other modules: reading files, deciding which keys matter (featurizer, output writer).
 *
 * Strictness (all documented choices):
 *  - the record must be an object; whitespace (space, tab, CR, LF) may surround it, so a trailing "\r"
 *    or "\n" is fine, anything else after the closing brace is an error;
 *  - raw bytes >= 0x80 in strings must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing
 *    above U+10FFFF); raw control characters (< 0x20) in strings are errors;
 *  - a \u escape of a surrogate must be a complete high+low pair; lone surrogates are errors (they
 *    cannot be converted to UTF-8);
 *  - \u0000 is accepted and decodes to a NUL byte, so decoded strings report their length;
 *  - duplicate keys are accepted (RFC 8259 leaves them to the reader); lookups return the FIRST one;
 *  - a UTF-8 byte-order mark is not skipped (RFC 8259 forbids emitting one): strip it before parsing.
 *
 * Errors: a malformed line is not a PETSc error. It is reported in wn_jsonl_status, so the caller can
 * name the file and line and agree across ranks (WN_CHECK_ALL). PETSc errors are raised only for misuse
 * (NULL arguments, a buffer that is too small) and allocation failures; they use PETSC_COMM_SELF.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <winnow/error.h>

/* Deepest nesting of arrays/objects accepted (the record itself is level 1). */
#define WN_JSON_MAX_DEPTH 256

/* JSON type of a member; WN_JSON_MISSING when a key is absent. */
typedef enum {
  WN_JSON_MISSING = 0,
  WN_JSON_NULL,
  WN_JSON_FALSE,
  WN_JSON_TRUE,
  WN_JSON_NUMBER,
  WN_JSON_STRING,
  WN_JSON_ARRAY,
  WN_JSON_OBJECT
} wn_json_type;

/* Outcome of validating a line. */
typedef struct {
  PetscBool   valid;  /* PETSC_TRUE when the line is one JSON object */
  size_t      offset; /* 0-based byte offset of the first offending byte (== len for "unexpected end") */
  const char *reason; /* static text naming what was expected, "" when valid */
} wn_jsonl_status;

/* A span of the borrowed line. */
typedef struct {
  const char *ptr; /* into the line passed to wn_jsonl_parse (borrowed) */
  size_t      len; /* bytes */
} wn_json_span;

/* One parsed record: the member table of the last line parsed. Opaque; reusable for many lines. */
typedef struct wn_jsonl_record wn_jsonl_record;

/* Create an empty record holder. Not collective. Free with wn_jsonl_record_destroy(). */
PETSC_EXTERN PetscErrorCode wn_jsonl_record_create(wn_jsonl_record **rec);
/* Free a record holder and set *rec = NULL; accepts NULL and *rec == NULL. Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_record_destroy(wn_jsonl_record **rec);

/* Validate line[0, len) as one JSON object and index its top-level members into rec (the line stays
 * borrowed: keep it alive while using rec). On a malformed line status->valid = PETSC_FALSE and rec holds
 * no members. The line need not be NUL-terminated. Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_parse(wn_jsonl_record *rec, const char *line, size_t len, wn_jsonl_status *status);
/* Validate only (no member table, no allocation). Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_validate(const char *line, size_t len, wn_jsonl_status *status);

/* Number of top-level members of the last valid line (duplicates counted). Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_n_members(const wn_jsonl_record *rec, int64_t *n);
/* Member i in line order: key as a raw JSON string literal (with quotes; decode with wn_json_string_decode),
 * value as raw text (a string value includes its quotes), and its type. Any output may be NULL. Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_member(const wn_jsonl_record *rec, int64_t i, wn_json_span *key, wn_json_span *value, wn_json_type *type);

/* Raw value text of the first member named key (keys compare after decoding their escapes): for a
 * string it includes the quotes, for arrays/objects the brackets. *type = WN_JSON_MISSING and an empty
 * span when absent. value may be NULL. Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_get_raw(const wn_jsonl_record *rec, const char *key, wn_json_type *type, wn_json_span *value);

/* Decoded UTF-8 text of the first member named key. Always sets *type and *length (decoded bytes, without
 * the NUL; 0 unless the member is a string); the buffer needed is *length + 1. buf may be NULL (size
 * query); otherwise buf_size must be >= *length + 1 (else PETSC_ERR_ARG_SIZ) and buf receives the text
 * and a NUL ("" when the member is missing or not a string). The text may contain NUL bytes (\u0000).
 * Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_get_string(const wn_jsonl_record *rec, const char *key, wn_json_type *type, char *buf, size_t buf_size, size_t *length);
/* Same, into a new NUL-terminated buffer (*text owned by the caller: PetscFree; NULL unless a string). */
PETSC_EXTERN PetscErrorCode wn_jsonl_get_string_alloc(const wn_jsonl_record *rec, const char *key, wn_json_type *type, char **text, size_t *length);
/* The first member named key as a double (strtod of the JSON number, "C" locale rules; out-of-range
 * magnitudes become +-HUGE_VAL or 0). *value = NaN unless *type == WN_JSON_NUMBER. Not collective. */
PETSC_EXTERN PetscErrorCode wn_jsonl_get_number(const wn_jsonl_record *rec, const char *key, wn_json_type *type, double *value);

/* Decode a raw JSON string literal (with its quotes, as returned in spans) to UTF-8. Same buffer
 * convention as wn_jsonl_get_string. Errors (PETSC_ERR_ARG_WRONG) if raw is not one valid literal. */
PETSC_EXTERN PetscErrorCode wn_json_string_decode(const char *raw, size_t raw_len, char *buf, size_t buf_size, size_t *length);

/* Escape s[0, len) as a JSON string literal, quotes included: '"' and '\\' are escaped, control bytes
 * become \b \f \n \r \t or \u00XX, valid UTF-8 passes through unchanged, and every byte that is not part
 * of a valid UTF-8 sequence becomes \ufffd (so the output is always valid JSON). *length = bytes of the
 * literal without the NUL; buf may be NULL (size query), else buf_size must be >= *length + 1
 * (else PETSC_ERR_ARG_SIZ). Not collective. */
PETSC_EXTERN PetscErrorCode wn_json_escape(const char *s, size_t len, char *buf, size_t buf_size, size_t *length);
/* Same escaping, written to a stream (buffered by stdio). Not collective. */
PETSC_EXTERN PetscErrorCode wn_json_write_string(FILE *fp, const char *s, size_t len);

/* "missing", "null", "false", "true", "number", "string", "array", "object". Pure. */
PETSC_EXTERN const char *wn_json_type_name(wn_json_type type);
