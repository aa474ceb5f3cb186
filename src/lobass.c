/* lobass.c - placeholder (being written). */
#include <winnow/lobass.h>
