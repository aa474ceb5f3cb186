/* jsonlcheck.c - test helper: every line of a JSONL file is one valid JSON object holding the given keys.
 *   jsonlcheck FILE [-lines N] KEY...     exit 0 and print the line count, or exit 1 naming the first bad line
 * Uses winnow's own strict reader (src/jsonl.c), so it also checks what winnow writes is valid JSON.
 * Serial; plain exit codes (it is a test tool, not an MPI program).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/jsonl.h>

int main(int argc, char **argv)
{
  FILE            *fp;
  char            *line = NULL;
  size_t           cap  = 0;
  ssize_t          got;
  long             n = 0, want_lines = -1;
  int              first_key = 2;
  wn_jsonl_record *rec = NULL;

  if (argc < 2) {
    fprintf(stderr, "usage: jsonlcheck FILE [-lines N] KEY...\n");
    return 2;
  }
  if (argc > 3 && !strcmp(argv[2], "-lines")) {
    want_lines = atol(argv[3]);
    first_key  = 4;
  }
  if (PetscInitializeNoArguments()) return 2;
  if (wn_jsonl_record_create(&rec)) return 2;
  fp = fopen(argv[1], "r");
  if (!fp) {
    fprintf(stderr, "jsonlcheck: cannot open %s\n", argv[1]);
    return 1;
  }
  while ((got = getline(&line, &cap, fp)) >= 0) {
    wn_jsonl_status st;
    n++;
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
    if (wn_jsonl_parse(rec, line, (size_t)got, &st)) return 2;
    if (!st.valid) {
      fprintf(stderr, "jsonlcheck: %s line %ld: %s at byte %zu\n", argv[1], n, st.reason, st.offset);
      return 1;
    }
    for (int k = first_key; k < argc; k++) {
      wn_json_type type;
      if (wn_jsonl_get_raw(rec, argv[k], &type, NULL)) return 2;
      if (type == WN_JSON_MISSING) {
        fprintf(stderr, "jsonlcheck: %s line %ld has no key \"%s\"\n", argv[1], n, argv[k]);
        return 1;
      }
    }
  }
  fclose(fp);
  free(line);
  wn_jsonl_record_destroy(&rec);
  PetscFinalize();
  if (want_lines >= 0 && n != want_lines) {
    fprintf(stderr, "jsonlcheck: %s has %ld lines, expected %ld\n", argv[1], n, want_lines);
    return 1;
  }
  printf("%ld\n", n);
  return 0;
}
