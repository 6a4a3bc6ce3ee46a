// Fault injection for tests: DSXPLORE_FAULT_OP=<op> (a Backend method name, e.g.
// scc_backward) makes that op fail on every backend created while it is set, as a device
// error would: the op throws, the trial fails with a message naming it, and the process and
// the sweep go on. DSXPLORE_FAULT_AFTER=<n> lets the first n calls of the op succeed.
// Read once per backend; an unset variable costs one branch per op.
#pragma once
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dsx {

class FaultHook {
 public:
  FaultHook() {
    if (const char* op = std::getenv("DSXPLORE_FAULT_OP")) op_ = op;
    if (const char* n = std::getenv("DSXPLORE_FAULT_AFTER")) after_ = std::atol(n);
  }
  void at(const char* op) {
    if (op_.empty() || op_ != op) return;
    if (after_ > 0) {
      --after_;
      return;
    }
    throw std::runtime_error("injected device fault (DSXPLORE_FAULT_OP=" + op_ + ")");
  }

 private:
  std::string op_;
  long after_ = 0;
};

}  // namespace dsx
