/* ngram.c - placeholder (being written). */
#include <winnow/ngram.h>
