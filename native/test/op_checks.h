// Op-by-op comparison of a GPU-side backend with the CPU backend (op_checks.cc).
#pragma once
#include "backend.h"

// Prints one line per check; returns 0 when every check passed, 1 otherwise.
int run_op_checks(dsx::Backend& cpu, dsx::Backend& gpu);
