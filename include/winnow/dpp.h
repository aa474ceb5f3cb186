/* dpp.h - placeholder contract, written next */
#pragma once
#include <winnow/error.h>
