/* lobass_method.c - placeholder (being written). */
#include <winnow/method.h>
