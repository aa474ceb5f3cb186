/* logdet.c - placeholder (being written). */
#include <winnow/logdet.h>
