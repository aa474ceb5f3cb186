/* lobass.h - placeholder (being written) */
#pragma once
#include <winnow/error.h>
