// The emulator's scheduler: blocks over the CPU pool, a block's threads as fibers on one OS thread.
// A fiber runs until it waits (a barrier or a warp rendezvous) or ends; the last thread to arrive
// at a barrier releases the others, and a pass over the block that can run nobody is a deadlock or
// a divergent barrier, reported with the threads and what they wait on, never a hang.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../../cpu/parallel.h"
#include "../runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define ANN_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ANN_EMU_ASAN 1
#endif
#endif
#if defined(ANN_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *from, and continues on `to` (a stack saved the same way, or a fresh one
// laid out by init_stack). A fresh fiber starts in the trampoline, which calls r12(r13).
extern "C" void ann_emu_switch(void** from, void* to);
extern "C" void ann_emu_trampoline();
asm(R"(
  .text
  .globl ann_emu_switch
  .hidden ann_emu_switch
  .type ann_emu_switch, @function
ann_emu_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size ann_emu_switch, .-ann_emu_switch

  .globl ann_emu_trampoline
  .hidden ann_emu_trampoline
  .type ann_emu_trampoline, @function
ann_emu_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r13, %rdi
  callq *%r12
  ud2
  .cfi_endproc
  .size ann_emu_trampoline, .-ann_emu_trampoline
)");

namespace ann::emu {

thread_local Context ctx;

namespace {

#if defined(ANN_EMU_ASAN)
constexpr size_t kStackBytes = 1 << 20;  // ASan's redzones make frames several times larger
#else
constexpr size_t kStackBytes = 256 << 10;
#endif
constexpr size_t kGuardBytes = 4096;
constexpr int kMaxThreads = 1024;

enum class State : unsigned char { Fresh, Ready, AtBarrier, AtWarp, Done };

struct Block;

}  // namespace

struct Fiber {
  uint3 thread_idx;
  int linear = 0, lane = 0, warp = 0;
  State state = State::Fresh;
  unsigned warp_seq = 0;               // this lane's count of warp operations (picks the slot buffer)
  const void* barrier_site = nullptr;  // which __syncthreads it waits at
  const char* warp_op = nullptr;       // which warp operation it waits in
  void* sp = nullptr;
  char* stack = nullptr;
  Block* block = nullptr;
};

namespace {

struct Warp {
  int lanes = 0, arrived = 0;
  const char* op = nullptr;  // the operation of the rendezvous being gathered
  uint64_t slots[2][32];     // double-buffered: one rendezvous per operation suffices
};

struct Block {
  int threads = 0, done = 0, at_barrier = 0;
  const void* barrier_site = nullptr;
  Fiber fibers[kMaxThreads];
  Warp warps[kMaxThreads / 32];
  void* scheduler_sp = nullptr;
  std::vector<char*> free_stacks;
  std::vector<unsigned char> dynamic_shared;
  std::exception_ptr error;
  void (*body)(void*) = nullptr;
  void* arg = nullptr;
#if defined(ANN_EMU_ASAN)
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

void release_stacks(Block& b) {
  for (char* s : b.free_stacks) munmap(s - kGuardBytes, kStackBytes + kGuardBytes);
  b.free_stacks.clear();
}

struct BlockDeleter {
  void operator()(Block* b) const {
    release_stacks(*b);
    delete b;
  }
};

// One per OS thread (the pool's workers come and go with set_num_threads).
thread_local std::unique_ptr<Block, BlockDeleter> t_block;

Block& this_thread_block() {
  if (!t_block) t_block.reset(new Block());
  return *t_block;
}

char* take_stack(Block& b) {
  if (!b.free_stacks.empty()) {
    char* s = b.free_stacks.back();
    b.free_stacks.pop_back();
    return s;
  }
  void* m = mmap(nullptr, kStackBytes + kGuardBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) throw Error("cuda emulator: cannot map a fiber stack");
  mprotect(m, kGuardBytes, PROT_NONE);  // an overflow faults instead of corrupting a neighbour
  return static_cast<char*>(m) + kGuardBytes;
}

// Switches from the scheduler into fiber f, or from fiber f back to the scheduler.
void enter(Block& b, Fiber& f) {
#if defined(ANN_EMU_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack, kStackBytes);
  ann_emu_switch(&b.scheduler_sp, f.sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  ann_emu_switch(&b.scheduler_sp, f.sp);
#endif
}

void leave(Block& b, Fiber& f, bool finished) {
#if defined(ANN_EMU_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake, b.scheduler_stack, b.scheduler_stack_size);
  ann_emu_switch(&f.sp, b.scheduler_sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  (void)finished;
  ann_emu_switch(&f.sp, b.scheduler_sp);
#endif
}

void fiber_main(Fiber* f) {
  Block& b = *f->block;
#if defined(ANN_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
  try {
    b.body(b.arg);
  } catch (...) {
    if (!b.error) b.error = std::current_exception();
  }
  f->state = State::Done;
  ++b.done;
  leave(b, *f, true);
  __builtin_unreachable();
}

void init_stack(Fiber& f) {
#if defined(ANN_EMU_ASAN)
  __asan_unpoison_memory_region(f.stack, kStackBytes);  // frames of an abandoned fiber
#endif
  auto* top = reinterpret_cast<uint64_t*>(f.stack + kStackBytes);  // 16-byte aligned
  uint32_t mxcsr;
  uint16_t fpcw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpcw));
  top[-1] = reinterpret_cast<uint64_t>(&ann_emu_trampoline);  // return address of the first switch
  top[-2] = 0;                                                // rbp
  top[-3] = 0;                                                // rbx
  top[-4] = reinterpret_cast<uint64_t>(&fiber_main);          // r12
  top[-5] = reinterpret_cast<uint64_t>(&f);                   // r13
  top[-6] = 0;                                                // r14
  top[-7] = 0;                                                // r15
  top[-9] = 0;
  top[-8] = 0;
  std::memcpy(&top[-9], &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(&top[-9]) + 4, &fpcw, 2);
  f.sp = &top[-9];
}

std::string dim_str(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

std::string thread_str(const Fiber& f) {
  return "thread (" + std::to_string(f.thread_idx.x) + "," + std::to_string(f.thread_idx.y) + "," +
         std::to_string(f.thread_idx.z) + ")";
}

// Called when no fiber can run but some have not finished: says who waits on what.
[[noreturn]] void report_stall(const Block& b) {
  const Fiber *waiting = nullptr, *done = nullptr, *in_warp = nullptr;
  for (int i = 0; i < b.threads; ++i) {
    const Fiber& f = b.fibers[i];
    if (f.state == State::AtBarrier && !waiting) waiting = &f;
    if (f.state == State::Done && !done) done = &f;
    if (f.state == State::AtWarp && !in_warp) in_warp = &f;
  }
  std::string why;
  if (waiting && done)
    why = "divergent __syncthreads: " + thread_str(*waiting) + " waits at a barrier that " +
          thread_str(*done) + " exited without reaching (" + std::to_string(b.done) + " of " +
          std::to_string(b.threads) + " threads exited)";
  else if (in_warp && waiting)
    why = "deadlock: " + thread_str(*in_warp) + " waits in " + in_warp->warp_op + " for lanes that wait at " +
          "__syncthreads, e.g. " + thread_str(*waiting);
  else if (in_warp)
    why = "divergent warp operation: " + thread_str(*in_warp) + " waits in " + in_warp->warp_op +
          " for lanes of warp " + std::to_string(in_warp->warp) + " that exited";
  else
    why = "deadlock: no thread can run";
  throw Error(why);
}

void run_block(Block& b) {
  b.done = 0;
  b.at_barrier = 0;
  b.barrier_site = nullptr;
  for (auto& w : b.warps) {
    w.arrived = 0;
    w.op = nullptr;
  }
  if (!b.dynamic_shared.empty()) std::memset(b.dynamic_shared.data(), 0xff, b.dynamic_shared.size());  // NaN
  for (int i = 0; i < b.threads; ++i) {
    Fiber& f = b.fibers[i];
    f.state = State::Fresh;
    f.warp_seq = 0;
  }
  while (b.done < b.threads) {
    bool ran = false;
    for (int i = 0; i < b.threads; ++i) {
      Fiber& f = b.fibers[i];
      if (f.state == State::Fresh) {
        f.stack = take_stack(b);
        init_stack(f);
      } else if (f.state != State::Ready) {
        continue;
      }
      f.state = State::Ready;
      ran = true;
      ctx.fiber = &f;
      ctx.thread_idx = &f.thread_idx;
      enter(b, f);
      ctx.fiber = nullptr;
      ctx.thread_idx = nullptr;
      if (f.state == State::Done) {
        b.free_stacks.push_back(f.stack);
        f.stack = nullptr;
      }
      if (b.error) break;
    }
    if (b.error) {
      // The fibers still suspended are abandoned (their stacks reused; kernels own no resources).
      for (int i = 0; i < b.threads; ++i)
        if (b.fibers[i].stack) {
          b.free_stacks.push_back(b.fibers[i].stack);
          b.fibers[i].stack = nullptr;
        }
      std::rethrow_exception(b.error);
    }
    if (!ran) {
      for (int i = 0; i < b.threads; ++i)
        if (b.fibers[i].stack) {
          b.free_stacks.push_back(b.fibers[i].stack);
          b.fibers[i].stack = nullptr;
        }
      report_stall(b);
    }
  }
}

Fiber& self(const char* what) {
  if (!ctx.fiber) throw Error(std::string("cuda emulator: ") + what + " called outside a kernel");
  return *const_cast<Fiber*>(ctx.fiber);
}

// Waits (yields to the scheduler) until `released` says so; the caller set the state.
void wait(Fiber& f) {
  Block& b = *f.block;
  leave(b, f, false);
  // resumed by the scheduler: the releaser set state to Ready; a failure elsewhere ends the block
}

bool reverse_blocks() {
  const char* env = std::getenv("ANN_CUDA_EMU_REVERSE");
  return env && env[0] == '1';
}

}  // namespace

int lane_id() { return self("a warp operation").lane; }

unsigned warp_mask() {
  const Fiber& f = self("a warp operation");
  const int lanes = f.block->warps[f.warp].lanes;
  return lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
}

void check_mask(const char* what, unsigned mask) {
  const unsigned need = warp_mask();
  if ((mask & need) != need)
    throw Error(std::string(what) + ": the emulator runs full-warp masks only (mask 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%08x", mask);
      return std::string(buf);
    }() + ")");
}

uint64_t warp_exchange(const char* what, uint64_t bits, int src, uint64_t* all) {
  Fiber& f = self(what);
  Block& b = *f.block;
  Warp& w = b.warps[f.warp];
  const unsigned p = f.warp_seq++ & 1;
  w.slots[p][f.lane] = bits;
  if (w.arrived == 0) {
    w.op = what;
  } else if (std::strcmp(w.op, what) != 0) {
    throw Error(std::string("divergent warp operation: ") + thread_str(f) + " is in " + what +
                " while other lanes of warp " + std::to_string(f.warp) + " are in " + w.op);
  }
  if (++w.arrived == w.lanes) {
    w.arrived = 0;
    const int base = f.warp * 32;
    for (int l = 0; l < w.lanes; ++l)
      if (b.fibers[base + l].state == State::AtWarp) b.fibers[base + l].state = State::Ready;
  } else {
    f.state = State::AtWarp;
    f.warp_op = what;
    wait(f);
  }
  if (all)
    for (int l = 0; l < w.lanes; ++l) all[l] = w.slots[p][l];
  if (src < 0 || src >= w.lanes) src = f.lane;  // a lane that does not exist: own value
  return w.slots[p][src];
}

void launch(const LaunchSpec& s, void (*body)(void*), void* arg) {
  const dim3 g = s.grid, k = s.block;
  const uint64_t threads = uint64_t{k.x} * k.y * k.z;
  const auto fail = [&](const std::string& why) {
    throw Error(std::string(s.op) + ": launch of " + s.kernel + " (grid " + dim_str(g) + ", block " +
                dim_str(k) + ", " + std::to_string(s.shared_bytes) + " B shared): " + why);
  };
  if (g.x == 0 || g.y == 0 || g.z == 0 || threads == 0 || threads > kMaxThreads || k.z > 64 || g.y > 65535 ||
      g.z > 65535 || g.x > 0x7fffffffu)
    fail("invalid configuration argument");
  if (s.shared_bytes > 227 * 1024) fail("too much dynamic shared memory (at most 227 KiB a block)");
  if (ctx.fiber) fail("launch from inside a kernel is not supported");
  const int64_t blocks = int64_t{g.x} * g.y * g.z;
  const bool reverse = reverse_blocks();
  try {
    parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
      Block& b = this_thread_block();
      b.threads = static_cast<int>(threads);
      b.body = body;
      b.arg = arg;
      b.error = nullptr;
      b.dynamic_shared.assign(s.shared_bytes, 0);
      for (int i = 0; i < b.threads; ++i) {
        Fiber& f = b.fibers[i];
        f.linear = i;
        f.thread_idx = {static_cast<unsigned>(i) % k.x, static_cast<unsigned>(i) / k.x % k.y,
                        static_cast<unsigned>(i) / (k.x * k.y)};
        f.lane = i & 31;
        f.warp = i >> 5;
        f.block = &b;
        f.stack = nullptr;
      }
      for (int w = 0; w * 32 < b.threads; ++w) b.warps[w].lanes = std::min(32, b.threads - w * 32);
      ctx.block_dim = k;
      ctx.grid_dim = g;
      ctx.dynamic_shared = b.dynamic_shared.empty() ? nullptr : b.dynamic_shared.data();
      for (int64_t j = 0; j < end - begin; ++j) {
        const int64_t id = reverse ? end - 1 - j : begin + j;
        ctx.block_idx = {static_cast<unsigned>(id % g.x), static_cast<unsigned>(id / g.x % g.y),
                         static_cast<unsigned>(id / (int64_t{g.x} * g.y))};
        run_block(b);
      }
    });
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

}  // namespace ann::emu

void __syncthreads() {
  using namespace ann::emu;
  Fiber& f = self("__syncthreads");
  Block& b = *f.block;
  const void* site = __builtin_return_address(0);
  if (b.at_barrier == 0) {
    b.barrier_site = site;
  } else if (b.barrier_site != site) {
    throw ann::Error("divergent __syncthreads: " + thread_str(f) +
                     " reached a different __syncthreads than the threads waiting");
  }
  if (++b.at_barrier == b.threads) {
    b.at_barrier = 0;
    for (int i = 0; i < b.threads; ++i)
      if (b.fibers[i].state == State::AtBarrier) b.fibers[i].state = State::Ready;
    return;
  }
  f.state = State::AtBarrier;
  f.barrier_site = site;
  wait(f);
}

unsigned __ballot_sync(unsigned mask, int predicate) {
  using namespace ann::emu;
  check_mask("__ballot_sync", mask);
  uint64_t all[32];
  warp_exchange("__ballot_sync", predicate ? 1 : 0, 0, all);
  const int lanes = static_cast<int>(__builtin_popcount(warp_mask()));
  unsigned r = 0;
  for (int l = 0; l < lanes; ++l)
    if (all[l]) r |= 1u << l;
  return r;
}
