// Whole-network parity of a GPU-side backend with the CPU backend (net_checks.cc).
#pragma once
#include <string>

#include "backend.h"

// Trains each network of `dir` (nets/*.spec) for a few SGD steps from identical weights on
// both backends (only: just that one); prints the largest differences; returns 0 when all
// agree within tolerance.
int run_net_checks(dsx::Backend& cpu, dsx::Backend& gpu, const std::string& dir,
                   const std::string& only = "");
