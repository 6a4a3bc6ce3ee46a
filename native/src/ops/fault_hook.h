// Fault injection for tests: DSXPLORE_FAULT_OP=<op> (a Backend method name, e.g.
// scc_backward) makes that op fail on every backend created while it is set, and
// DSXPLORE_FAULT_MODE says how, so that each way a trial's process can end is testable
// without a GPU (README: GPUs, what a device fault costs):
//   throw (default)  the op throws, as a device error would: the trial fails with a message
//                    naming it, and the process goes on;
//   abort            the process aborts (SIGABRT), as on a failed assertion in a driver;
//   segv             the process dies by SIGSEGV, as on a wild pointer;
//   hang             the op blocks forever, as a wedged kernel does.
// The last three say which op on stderr first, as a crash report would.
// DSXPLORE_FAULT_AFTER=<n> lets the first n calls of the op succeed. Read once per backend;
// an unset variable costs one branch per op.
#pragma once
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace dsx {

class FaultHook {
 public:
  enum class Mode { Throw, Abort, Segv, Hang };

  FaultHook() {
    if (const char* op = std::getenv("DSXPLORE_FAULT_OP")) op_ = op;
    if (const char* n = std::getenv("DSXPLORE_FAULT_AFTER")) after_ = std::atol(n);
    const char* m = std::getenv("DSXPLORE_FAULT_MODE");
    if (op_.empty() || m == nullptr || *m == '\0' || std::strcmp(m, "throw") == 0) return;
    if (std::strcmp(m, "abort") == 0) mode_ = Mode::Abort;
    else if (std::strcmp(m, "segv") == 0) mode_ = Mode::Segv;
    else if (std::strcmp(m, "hang") == 0) mode_ = Mode::Hang;
    else throw std::runtime_error(std::string("DSXPLORE_FAULT_MODE must be throw, abort, segv or hang, not '") + m + "'");
  }

  void at(const char* op) {
    if (op_.empty() || op_ != op) return;
    if (after_ > 0) {
      --after_;
      return;
    }
    if (mode_ == Mode::Throw) throw std::runtime_error("injected device fault (DSXPLORE_FAULT_OP=" + op_ + ")");
    static const char* const names[] = {"throw", "abort", "segv", "hang"};
    std::fprintf(stderr, "dsxplore: injected fault in %s (DSXPLORE_FAULT_MODE=%s)\n", op,
                 names[static_cast<int>(mode_)]);
    std::fflush(stderr);
    switch (mode_) {
      case Mode::Abort:
        std::abort();
      case Mode::Segv:
        // the default action, whatever handler the host installed (V8 keeps one for
        // WebAssembly traps)
        std::signal(SIGSEGV, SIG_DFL);
        std::raise(SIGSEGV);
        std::abort();
      case Mode::Hang:
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      case Mode::Throw:
        break;
    }
  }

 private:
  std::string op_;
  long after_ = 0;
  Mode mode_ = Mode::Throw;
};

}  // namespace dsx
