#include "ember/scheduler.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <algorithm>

#include "ember/allocator.h"
#include "ember/primitive.h"

namespace ember {

namespace {

// One ordered worker per stream.
class StreamWorker {
 public:
  StreamWorker() : thread_([this] { loop(); }) {}
  ~StreamWorker() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void push(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lk(m_);
      q_.push_back(std::move(f));
      ++outstanding_;
    }
    cv_.notify_one();
  }
  void drain() {
    std::unique_lock<std::mutex> lk(m_);
    idle_cv_.wait(lk, [&] { return outstanding_ == 0; });
  }
  // Runs `f` on the calling thread if the stream has nothing queued: a synchronous eval
  // then costs no thread hand-off. Work queued meanwhile runs after it, in order.
  bool try_run_inline(const std::function<void()>& f) {
    {
      std::lock_guard<std::mutex> lk(m_);
      if (outstanding_ != 0) return false;
      ++outstanding_;
    }
    {
      std::lock_guard<std::mutex> ex(exec_m_);
      f();
    }
    std::lock_guard<std::mutex> lk(m_);
    if (--outstanding_ == 0) idle_cv_.notify_all();
    return true;
  }

 private:
  void loop() {
    while (true) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        f = std::move(q_.front());
        q_.pop_front();
      }
      {
        std::lock_guard<std::mutex> ex(exec_m_);
        f();
        f = nullptr;  // release the task's arrays before the next one runs
      }
      {
        std::lock_guard<std::mutex> lk(m_);
        if (--outstanding_ == 0) idle_cv_.notify_all();
      }
    }
  }
  std::mutex m_, exec_m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> q_;
  size_t outstanding_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

struct Registry {
  std::mutex m;
  std::vector<std::unique_ptr<StreamWorker>> workers;
  std::vector<Stream> streams;
  Device default_device{Device::cpu, 0};
  std::vector<Stream> default_streams;  // by device type
};

Registry& reg() {
  static Registry* r = [] {
    auto* r = new Registry();
    r->streams.push_back(Stream(0, Device(Device::cpu, 0)));
    r->workers.push_back(std::make_unique<StreamWorker>());
    r->default_streams.push_back(r->streams[0]);
    return r;
  }();
  return *r;
}

StreamWorker& worker(const Stream& s) {
  std::lock_guard<std::mutex> lk(reg().m);
  if (s.index < 0 || s.index >= (int)reg().workers.size())
    throw std::invalid_argument("[stream] Unknown stream index " + std::to_string(s.index) + ".");
  return *reg().workers[s.index];
}

// Completion notification between workers and waiting threads.
std::mutex done_m;
std::condition_variable done_cv;
std::atomic<int> waiters{0};

void notify_done() {
  if (waiters.load() > 0) {
    { std::lock_guard<std::mutex> lk(done_m); }
    done_cv.notify_all();
  }
}

// Compute one node: its primitive writes all its outputs.
void run_node(array a) {
  auto prim = a.primitive_ptr();
  std::vector<array> inputs = std::move(a.inputs());
  std::vector<array> outs = a.outputs();
  std::exception_ptr err;
  for (auto& in : inputs) {
    if (!in.is_available()) scheduler::wait_for(in);
    if (in.error()) {
      err = in.error();
      break;
    }
  }
  if (!err) {
    try {
      allocator::OpScope scope(prim->name());  // an allocation failure names the primitive
      prim->eval_cpu(inputs, outs);
    } catch (const allocator::out_of_memory&) {
      err = std::current_exception();
    } catch (const std::bad_alloc&) {
      // A kernel's own scratch memory (std::vector, ...) ran out: still a MemoryError, named.
      err = std::make_exception_ptr(allocator::out_of_memory(
          std::string("[") + prim->name() + "] Out of memory: a temporary buffer could not be allocated."));
    } catch (...) {
      err = std::current_exception();
    }
  }
  bool keep_graph = a.is_tracer();
  if (keep_graph) a.inputs() = std::move(inputs);
  inputs.clear();
  for (auto& o : outs) {
    if (err) o.set_error(err);
    if (!keep_graph) o.detach();
  }
  for (auto& o : outs) o.set_status(array::Status::available);
  notify_done();
}

// An open-addressing hash table keyed by node address. An eval walks every pending node, often
// tens of thousands of small ones: this table allocates nothing per entry.
template <typename V>
class NodeTable {
 public:
  explicit NodeTable(size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected) cap *= 2;
    keys_.assign(cap, nullptr);
    vals_.resize(cap);
  }
  // The value stored for `key`, or null.
  V* find(const void* key) {
    for (size_t i = slot(key);; i = (i + 1) & mask()) {
      if (keys_[i] == key) return &vals_[i];
      if (!keys_[i]) return nullptr;
    }
  }
  // Adds `key` with a default value unless present; its value, and whether it was added.
  // (Adding may move the values: pointers from earlier calls are then stale.)
  std::pair<V*, bool> insert(const void* key) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    size_t i = slot(key);
    for (; keys_[i]; i = (i + 1) & mask())
      if (keys_[i] == key) return {&vals_[i], false};
    keys_[i] = key;
    vals_[i] = V{};
    ++size_;
    return {&vals_[i], true};
  }

 private:
  size_t mask() const { return keys_.size() - 1; }
  size_t slot(const void* key) const {  // Fibonacci hashing: the product's top bits
    uint64_t x = reinterpret_cast<uintptr_t>(key) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> (64 - __builtin_ctzll(keys_.size())));
  }
  void grow() {
    std::vector<const void*> keys(2 * keys_.size(), nullptr);
    std::vector<V> vals(keys.size());
    keys.swap(keys_);
    vals.swap(vals_);
    size_ = 0;
    for (size_t j = 0; j < keys.size(); ++j)
      if (keys[j]) *insert(keys[j]).first = vals[j];
  }
  std::vector<const void*> keys_;
  std::vector<V> vals_;
  size_t size_ = 0;
};

// Re-orders a topologically sorted tape so that, at every node, the input with the
// deepest pending graph is computed first. Shallow branches (such as recomputation in a
// checkpointed backward pass) then run right before they are consumed, which keeps
// fewer intermediates alive at once.
std::vector<array> order_by_depth(std::vector<array>& tape, const std::vector<array>& outputs) {
  struct Info {
    int depth = 0;
    bool done = false;
  };
  NodeTable<Info> info(tape.size());
  for (auto& node : tape) {
    int d = 0;
    for (auto& in : node.inputs())
      if (Info* i = info.find(in.id())) d = std::max(d, i->depth + 1);
    if (node.has_siblings())
      for (auto& o : node.outputs()) info.insert(o.id()).first->depth = d;
    else
      info.insert(node.id()).first->depth = d;
  }
  std::vector<array> ordered;
  ordered.reserve(tape.size());
  // Each frame's pending inputs, deepest first, as (depth, input position): one shared
  // stack of entries, since frames end in the reverse order they start.
  std::vector<std::pair<int, int>> order;
  struct Frame {
    array node;
    size_t begin, end, pos;
  };
  std::vector<Frame> stack;
  auto mark_done = [&](const array& a) {
    if (!a.has_siblings()) {
      info.find(a.id())->done = true;
      return;
    }
    for (auto& s : a.outputs())
      if (Info* i = info.find(s.id())) i->done = true;
  };
  auto push = [&](const array& a) {
    size_t begin = order.size();
    auto& ins = a.inputs();
    for (int i = 0; i < (int)ins.size(); ++i) {
      if (Info* in = info.find(ins[i].id())) {
        // Insertion keeps equal depths in input order.
        order.emplace_back(in->depth, i);
        for (size_t k = order.size() - 1; k > begin && order[k - 1].first < order[k].first; --k)
          std::swap(order[k - 1], order[k]);
      }
    }
    stack.push_back(Frame{a, begin, order.size(), begin});
  };
  for (auto& o : outputs) {
    Info* oi = info.find(o.id());
    if (!oi || oi->done) continue;
    mark_done(o);
    push(o);
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.pos < f.end) {
        const array& in = f.node.inputs()[order[f.pos++].second];
        if (!info.find(in.id())->done) {
          mark_done(in);
          push(in);
        }
        continue;
      }
      order.resize(f.begin);
      ordered.push_back(std::move(f.node));
      stack.pop_back();
    }
  }
  return ordered;
}

void schedule(std::vector<array>& outputs, bool sync) {
  // Iterative post-order walk over unscheduled nodes.
  std::vector<array> tape;
  bool branching = false;
  NodeTable<char> seen(2 * outputs.size());
  struct Frame {
    array node;
    size_t i;          // next input to visit
    int pending = 0;   // inputs still to be computed
  };
  std::vector<Frame> stack;
  for (auto& o : outputs) {
    if (o.status() == array::Status::unscheduled && !o.has_primitive())
      throw std::invalid_argument(
          "[eval] Attempting to evaluate a placeholder array: arrays traced by vmap or "
          "compile cannot be evaluated inside the transformed function.");
    if (o.status() != array::Status::unscheduled || !o.has_primitive()) continue;
    if (!seen.insert(o.id()).second) continue;
    // Outputs of one multi-output node (a fused group returning several values) run once.
    for (auto& s : o.siblings()) seen.insert(s.id());
    stack.push_back(Frame{o, 0});
    while (!stack.empty()) {
      auto& [node, i, pending] = stack.back();
      auto& ins = node.inputs();
      if (i < ins.size()) {
        const array& in = ins[i++];
        if (in.status() != array::Status::unscheduled) continue;
        if (!in.has_primitive())
          throw std::invalid_argument(
              "[eval] Attempting to evaluate a placeholder array: arrays traced by vmap or "
              "compile cannot be evaluated inside the transformed function.");
        // Only a node waiting on two or more computations has an order to choose.
        if (++pending == 2) branching = true;
        if (seen.insert(in.id()).second) {
          for (auto& s : in.siblings()) seen.insert(s.id());
          stack.push_back(Frame{in, 0});
        }
      } else {
        tape.push_back(std::move(node));
        stack.pop_back();
      }
    }
  }
  if (branching) tape = order_by_depth(tape, outputs);
  for (auto& a : tape) {
    if (a.has_siblings())
      for (auto& o : a.outputs()) o.set_status(array::Status::scheduled);
    else
      a.set_status(array::Status::scheduled);
  }
  if (sync && !tape.empty()) {
    Stream s = tape[0].primitive().stream();
    bool one_stream = true;
    for (auto& a : tape) one_stream &= a.primitive().stream() == s;
    if (one_stream) {
      auto run_all = [&tape]() {
        for (auto& a : tape) {
          array node = std::move(a);
          run_node(std::move(node));
        }
      };
      if (worker(s).try_run_inline(run_all)) return;
    }
  }
  // Consecutive nodes on one stream go to its worker as one task.
  size_t i = 0;
  while (i < tape.size()) {
    Stream s = tape[i].primitive().stream();
    auto batch = std::make_shared<std::vector<array>>();
    while (i < tape.size() && tape[i].primitive().stream() == s) batch->push_back(std::move(tape[i++]));
    worker(s).push([batch]() {
      for (auto& a : *batch) {
        array node = std::move(a);
        run_node(std::move(node));
      }
    });
  }
}

}  // namespace

namespace scheduler {

void wait_for(const array& a) {
  if (a.is_available()) return;
  std::unique_lock<std::mutex> lk(done_m);
  waiters.fetch_add(1);
  done_cv.wait(lk, [&] { return a.is_available(); });
  waiters.fetch_sub(1);
}


}  // namespace scheduler

void async_eval(std::vector<array> outputs) { schedule(outputs, false); }

void eval(std::vector<array> outputs) {
  schedule(outputs, true);
  for (auto& o : outputs) {
    scheduler::wait_for(o);
    if (o.error()) std::rethrow_exception(o.error());
  }
}

void array::eval() {
  if (!is_available() || error()) ember::eval(std::vector<array>{*this});
}

// ---------- devices and streams

const Device& default_device() { return reg().default_device; }

bool is_available(const Device& d) { return d.type == Device::cpu; }

void set_default_device(const Device& d) {
  if (!is_available(d))
    throw std::invalid_argument("[set_default_device] Device is not available: no GPU backend.");
  reg().default_device = d;
}

Stream default_stream(const Device& d) {
  if (!is_available(d))
    throw std::invalid_argument("[default_stream] Device is not available: no GPU backend.");
  return reg().default_streams[0];
}

void set_default_stream(const Stream& s) {
  std::lock_guard<std::mutex> lk(reg().m);
  reg().default_streams[0] = s;
  reg().default_device = s.device;
}

Stream new_stream(const Device& d) {
  if (!is_available(d))
    throw std::invalid_argument("[new_stream] Device is not available: no GPU backend.");
  std::lock_guard<std::mutex> lk(reg().m);
  Stream s((int)reg().streams.size(), d);
  reg().streams.push_back(s);
  reg().workers.push_back(std::make_unique<StreamWorker>());
  return s;
}

Stream to_stream(const StreamOrDevice& s) {
  if (std::holds_alternative<Stream>(s)) return std::get<Stream>(s);
  if (std::holds_alternative<Device>(s)) return default_stream(std::get<Device>(s));
  return default_stream(default_device());
}

void synchronize(const Stream& s) { worker(s).drain(); }

void synchronize() {
  size_t n;
  {
    std::lock_guard<std::mutex> lk(reg().m);
    n = reg().workers.size();
  }
  for (size_t i = 0; i < n; ++i) worker(reg().streams[i]).drain();
}

}  // namespace ember
