// The emulator's grid runner (cuda_emu.h): one host thread per CUDA thread of a block,
// looping over the blocks in order with a block barrier between them.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda_emu.h"

namespace dsx_emu {

thread_local ThreadState ts;

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
}  // namespace

void run_grid(const char* name, dim3 grid, dim3 block, const std::function<void()>& body) {
  const auto t0 = std::chrono::steady_clock::now();
  const int nthreads = static_cast<int>(block.x * block.y * block.z);
  const int nwarps = (nthreads + 31) / 32;
  std::barrier<> block_bar(nthreads);
  std::vector<std::unique_ptr<std::barrier<>>> warp_bars;
  for (int w = 0; w < nwarps; ++w)
    warp_bars.emplace_back(new std::barrier<>(std::min(32, nthreads - 32 * w)));
  std::vector<uint64_t> warp_buf(static_cast<size_t>(nwarps) * 32);
  std::vector<std::thread> threads;
  threads.reserve(nthreads);
  for (int t = 0; t < nthreads; ++t) {
    threads.emplace_back([&, t] {
      ThreadState& s = ts;
      s.thread = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
      s.block_dim = block;
      s.grid_dim = grid;
      s.block_bar = &block_bar;
      s.warp_bar = warp_bars[t / 32].get();
      s.warp_buf = &warp_buf[static_cast<size_t>(t / 32) * 32];
      s.lane = t % 32;
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            s.block = dim3(bx, by, bz);
            body();
            block_bar.arrive_and_wait();  // the next block reuses the "shared" memory
          }
    });
  }
  for (auto& th : threads) th.join();
  auto& c = profile.calls[name];
  c.first += 1;
  c.second += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dsx_emu
