// Persistent worker pool: workers sleep on a condition variable between jobs.
#include "ops/thread_pool.h"

namespace dsx {

bool& ThreadPool::in_job() {
  static thread_local bool flag = false;
  return flag;
}

ThreadPool::ThreadPool(int threads) : n_(threads < 1 ? 1 : threads) {
  for (int t = 1; t < n_; ++t) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& th : threads_) th.join();
}

void ThreadPool::dispatch(void (*call)(void*, int), void* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    call_ = call;
    ctx_ = ctx;
    pending_ = n_ - 1;
    ++gen_;
  }
  cv_work_.notify_all();
  in_job() = true;
  call(ctx, 0);
  in_job() = false;
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::worker(int tid) {
  in_job() = true;
  uint64_t seen = 0;
  for (;;) {
    void (*call)(void*, int);
    void* ctx;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_work_.wait(lock, [&] { return stop_ || gen_ != seen; });
      if (stop_) return;
      seen = gen_;
      call = call_;
      ctx = ctx_;
    }
    call(ctx, tid);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }
}

}  // namespace dsx
