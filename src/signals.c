/* signals.c - placeholder (being written). */
#include <winnow/signals.h>
