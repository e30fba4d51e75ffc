#include "parallel.h"

#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ann {
namespace {

thread_local bool t_in_region = false;

int default_threads() {
  if (const char* env = std::getenv("ANN_SEG_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1 && n <= 256) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

// Workers wait for a job by spinning for a short while and then sleeping on a condition variable;
// the caller spins for the workers' end. A wake-up from sleep costs tens of microseconds here (on a
// 2-vCPU VM, about 40 us: a relu over 80k floats took 67 us on two threads, 28 us on one), longer
// than a small map's whole op, and a training step issues hundreds of ops a few microseconds of JS
// apart, so a worker that spins across that gap makes each hand-off a cache-line write.
// Worker i runs chunks i, i+size, ... of the job it saw; the caller runs chunks 0, size, ... and
// waits for every worker before returning, so no worker can still be inside an old job when the
// next one is posted.
class Pool {
 public:
  explicit Pool(int n) { resize(n); }

  int size() const { return size_; }

  void resize(int n) {
    stop_workers();
    size_ = n;
    // More threads than cores: a spinning thread would hold the core the one with work needs (a
    // step of the small preset at 4 threads on 2 cores took 200 ms spinning, 79 sleeping).
    spin_ = n <= available_cpus();
    const uint64_t gen = generation_.load();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, gen] { worker_loop(i, gen); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk_fn) {
    std::unique_lock<std::mutex> dispatch(dispatch_mu_, std::try_to_lock);
    if (!dispatch.owns_lock() || size_ == 1 || chunks == 1) {
      // Another thread is dispatching, or there is nothing to share: run here.
      for (int64_t c = 0; c < chunks; ++c) chunk_fn(c);
      return;
    }
    job_ = &chunk_fn;
    job_chunks_ = chunks;
    error_ = nullptr;
    active_.store(size_ - 1);
    post();
    run_chunks(0, chunk_fn, chunks);
    if (spin_) {
      for (int spins = 0; active_.load(std::memory_order_acquire) != 0; ++spins) relax(spins);
    } else {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return active_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

  ~Pool() { stop_workers(); }

 private:
  // About this long of spinning before a worker sleeps (checked every 256 pauses).
  static constexpr std::chrono::microseconds kSpin{300};

  static int available_cpus() {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // A waiter that has spun long (its partner preempted) gives its core away.
  static void relax(int spins) {
    if (spins < 4096) {
      pause();
    } else {
      std::this_thread::yield();
    }
  }

  // The generation store and the sleepers load (seq_cst), against a worker's sleepers increment and
  // generation load under mu_: either the worker sees the new job, or the caller sees it asleep and
  // wakes it through the mutex it waits under.
  void post() {
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }

  void run_chunks(int first, const std::function<void(int64_t)>& fn, int64_t chunks) {
    const bool was = t_in_region;
    t_in_region = true;
    for (int64_t c = first; c < chunks; c += size_) {
      try {
        fn(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    t_in_region = was;
  }

  // Returns the new generation once it differs from `seen`.
  uint64_t wait_for_job(uint64_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int spins = 1; spin_; ++spins) {
      const uint64_t g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      pause();
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lock(mu_);
    sleepers_.fetch_add(1);
    cv_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    return generation_.load();
  }

  void worker_loop(int id, uint64_t seen) {
    for (;;) {
      seen = wait_for_job(seen);
      if (stopping_.load(std::memory_order_acquire)) return;
      run_chunks(id, *job_, job_chunks_);
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1 && !spin_) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller checks active_ under mu_ before it waits
        done_cv_.notify_all();
      }
    }
  }

  void stop_workers() {
    stopping_.store(true);
    post();  // wakes sleeping workers by the same ordering as a job's
    for (auto& t : workers_) t.join();
    workers_.clear();
    stopping_.store(false);
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex dispatch_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  bool spin_ = true;
  // Written by the caller before the generation moves on, read by workers after they see it move.
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_chunks_ = 0;
  std::atomic<int> active_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // never destroyed: workers outlive static teardown
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 256) n = std::max(1, std::min(n, 256));
  if (n != pool().size()) pool().resize(n);
}

bool in_parallel_region() { return t_in_region; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>(num_threads(), (n + grain - 1) / grain);
  if (chunks <= 1 || t_in_region) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int64_t c) {
    const int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

}  // namespace ann
