// The emulator's grid runner (cuda_emu.h). The CUDA threads of a block are fibers on the
// calling OS thread: each has its own stack and runs until it reaches a barrier
// (__syncthreads, or a warp shuffle's warp barrier) or ends; a round-robin scheduler then
// runs the next one, and releases a barrier when every thread of the block (of the warp) has
// arrived. Each fiber walks every block of the grid in order, with a block barrier after
// each, so the next block reuses the "shared" memory only when the last one is done.
// User-space switches instead of one OS thread per CUDA thread: no thread creation per
// launch and no futex per barrier, which made the emulator slow on small machines. A fiber
// starts once per launch through ucontext (makecontext/setcontext); after that every switch
// is _setjmp/_longjmp, which saves no signal mask and so makes no system call.
// Fortified builds check that longjmp never jumps "down" a stack, which is exactly what
// switching stacks does: not here.
#undef _FORTIFY_SOURCE
#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda_emu.h"

namespace dsx_emu {

thread_local ThreadState* cur = nullptr;

int sm_count() {
  static const int n = [] {
    const char* e = std::getenv("DSX_EMU_SMS");
    const int v = e ? std::atoi(e) : 0;
    return v > 0 ? v : 8;
  }();
  return n;
}

namespace {

struct Profile {
  std::map<std::string, std::pair<int, double>> calls;  // name -> (launches, seconds)
  ~Profile() {
    if (!std::getenv("DSX_EMU_PROFILE")) return;
    for (auto& [name, c] : calls)
      std::fprintf(stderr, "emu %-28s %6d launches %8.2f s\n", name.c_str(), c.first, c.second);
  }
};
Profile profile;

constexpr size_t kStackBytes = 256 << 10;  // kernels keep small frames; generous anyway

enum class Wait { kNone, kBlock, kWarp, kDone };

struct Fiber {
  ThreadState state;
  ucontext_t start;  // the entry, used once per launch
  jmp_buf ctx;       // where it waits
  bool started = false;
  std::unique_ptr<char[]> stack;  // uninitialised: untouched pages cost nothing
  Wait wait = Wait::kNone;
};

// One grid launch in progress on this OS thread.
struct Grid {
  dim3 grid, block;
  const std::function<void()>* body = nullptr;
  std::vector<Fiber>* fibers = nullptr;
  Fiber* running = nullptr;
  jmp_buf scheduler;
};
thread_local Grid* grid_now = nullptr;
thread_local std::vector<Fiber> fiber_pool;  // stacks reused from launch to launch

void yield(Wait w) {
  Grid& g = *grid_now;
  Fiber* f = g.running;
  f->wait = w;
  if (_setjmp(f->ctx) == 0) _longjmp(g.scheduler, 1);
  cur = &f->state;  // resumed
}

void fiber_main() {
  Grid& g = *grid_now;
  Fiber* f = g.running;
  for (unsigned bz = 0; bz < g.grid.z; ++bz)
    for (unsigned by = 0; by < g.grid.y; ++by)
      for (unsigned bx = 0; bx < g.grid.x; ++bx) {
        f->state.block = dim3(bx, by, bz);
        (*g.body)();
        block_sync();  // the next block reuses the "shared" memory
      }
  f->wait = Wait::kDone;
  _longjmp(g.scheduler, 1);
}

}  // namespace

void block_sync() { yield(Wait::kBlock); }
void warp_sync() { yield(Wait::kWarp); }

void run_grid(const char* name, dim3 grid, dim3 block, const std::function<void()>& body) {
  const auto t0 = std::chrono::steady_clock::now();
  const int n = static_cast<int>(block.x * block.y * block.z);
  if (static_cast<int>(fiber_pool.size()) < n) fiber_pool.resize(n);
  const int nwarps = (n + 31) / 32;
  std::vector<uint64_t> warp_buf(static_cast<size_t>(nwarps) * 32);
  Grid g;
  g.grid = grid;
  g.block = block;
  g.body = &body;
  g.fibers = &fiber_pool;
  Grid* outer = grid_now;
  ThreadState* outer_cur = cur;
  grid_now = &g;
  for (int t = 0; t < n; ++t) {
    Fiber& f = fiber_pool[t];
    if (!f.stack) f.stack.reset(new char[kStackBytes]);
    f.state = ThreadState{};
    f.state.thread = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    f.state.block_dim = block;
    f.state.grid_dim = grid;
    f.state.warp_buf = &warp_buf[static_cast<size_t>(t / 32) * 32];
    f.state.lane = t % 32;
    f.wait = Wait::kNone;
    f.started = false;
    getcontext(&f.start);
    f.start.uc_stack.ss_sp = f.stack.get();
    f.start.uc_stack.ss_size = kStackBytes;
    f.start.uc_link = nullptr;
    makecontext(&f.start, fiber_main, 0);
  }
  // Run every runnable fiber until it waits; then release the barriers everyone reached.
  std::vector<int> warp_waiting(nwarps);
  for (;;) {
    bool ran = false;
    for (int t = 0; t < n; ++t) {
      Fiber& f = fiber_pool[t];
      if (f.wait != Wait::kNone) continue;
      g.running = &f;
      cur = &f.state;
      if (_setjmp(g.scheduler) == 0) {
        if (f.started) _longjmp(f.ctx, 1);
        f.started = true;
        setcontext(&f.start);
      }
      ran = true;
    }
    int done = 0, at_block = 0;
    std::fill(warp_waiting.begin(), warp_waiting.end(), 0);
    for (int t = 0; t < n; ++t) {
      const Wait w = fiber_pool[t].wait;
      done += w == Wait::kDone;
      at_block += w == Wait::kBlock;
      if (w == Wait::kWarp) warp_waiting[t / 32]++;
    }
    if (done == n) break;
    bool released = false;
    if (at_block + done == n && at_block > 0) {  // exited threads do not hold a barrier up
      for (int t = 0; t < n; ++t)
        if (fiber_pool[t].wait == Wait::kBlock) fiber_pool[t].wait = Wait::kNone;
      released = true;
    }
    for (int w = 0; w < nwarps; ++w) {
      const int lanes = std::min(32, n - 32 * w);
      int live = 0;
      for (int t = 32 * w; t < 32 * w + lanes; ++t) live += fiber_pool[t].wait != Wait::kDone;
      if (warp_waiting[w] > 0 && warp_waiting[w] == live) {
        for (int t = 32 * w; t < 32 * w + lanes; ++t)
          if (fiber_pool[t].wait == Wait::kWarp) fiber_pool[t].wait = Wait::kNone;
        released = true;
      }
    }
    if (!released && !ran) {
      std::fprintf(stderr, "cuda emulator: kernel %s deadlocked (threads wait at barriers that "
                           "cannot complete)\n", name);
      std::abort();
    }
  }
  grid_now = outer;
  cur = outer_cur;
  auto& c = profile.calls[name];
  c.first += 1;
  c.second += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dsx_emu
