/* dpp.c - placeholder (being written). */
#include <winnow/dpp.h>
