/* method.c - placeholder: being written (issue 2). */
#include <winnow/error.h>
