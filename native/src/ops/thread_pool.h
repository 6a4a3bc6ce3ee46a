// A small persistent worker pool for the CPU backend. Work is split by static partition
// (thread t always gets the same slice for a given size), so an op that keeps per-thread
// partial sums and adds them in thread order is deterministic for a fixed thread count.
// Dispatch does not allocate: the job is a function pointer plus a context pointer.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace dsx {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_; }

  // Runs f(tid) once for every tid in [0, size()); tid 0 runs on the calling thread.
  // A call from inside a running job runs every tid serially on the caller (no deadlock).
  template <class F>
  void run(F&& f) {
    using Fn = std::remove_reference_t<F>;
    if (n_ == 1 || in_job()) {
      for (int t = 0; t < n_; ++t) f(t);
      return;
    }
    dispatch([](void* ctx, int tid) { (*static_cast<Fn*>(ctx))(tid); },
             const_cast<void*>(static_cast<const void*>(&f)));
  }

  // Static partition of [0, n) into size() contiguous slices: f(tid, begin, end) for every
  // non-empty slice. Small n runs on the caller when `serial_below` says it is not worth it.
  template <class F>
  void parallel_for(int64_t n, F&& f, int64_t serial_below = 1) {
    if (n <= 0) return;
    if (n < serial_below || n_ == 1) {
      f(0, int64_t(0), n);
      return;
    }
    const int64_t T = n_;
    run([&](int tid) {
      int64_t b = n * tid / T, e = n * (tid + 1) / T;
      if (b < e) f(tid, b, e);
    });
  }

 private:
  static bool& in_job();
  void dispatch(void (*call)(void*, int), void* ctx);
  void worker(int tid);

  int n_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  void (*call_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  uint64_t gen_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace dsx
