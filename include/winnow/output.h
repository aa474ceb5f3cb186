/* output.h - placeholder */
#pragma once
#include <winnow/error.h>
