/* p3.c - placeholder (being written). */
#include <winnow/p3.h>
