#include "ember/scheduler.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

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

// Re-orders a topologically sorted tape so that, at every node, the input with the
// deepest pending graph is computed first. Shallow branches (such as recomputation in a
// checkpointed backward pass) then run right before they are consumed, which keeps
// fewer intermediates alive at once.
std::vector<array> order_by_depth(std::vector<array>& tape, const std::vector<array>& outputs) {
  std::unordered_map<const void*, int> depth;
  depth.reserve(tape.size() * 2);
  for (auto& node : tape) {
    int d = 0;
    for (auto& in : node.inputs()) {
      auto it = depth.find(in.id());
      if (it != depth.end()) d = std::max(d, it->second + 1);
    }
    if (node.has_siblings())
      for (auto& o : node.outputs()) depth[o.id()] = d;
    else
      depth[node.id()] = d;
  }
  std::vector<array> ordered;
  ordered.reserve(tape.size());
  std::unordered_set<const void*> done;
  done.reserve(tape.size() * 2);
  struct Frame {
    array node;
    std::vector<int> order;
    size_t pos;
  };
  std::vector<Frame> stack;
  auto mark_done = [&](const array& a) {
    if (a.has_siblings())
      for (auto& s : a.outputs()) done.insert(s.id());
    else
      done.insert(a.id());
  };
  auto push = [&](const array& a) {
    std::vector<int> order;
    auto& ins = a.inputs();
    for (int i = 0; i < (int)ins.size(); ++i)
      if (depth.count(ins[i].id())) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      return depth[ins[x].id()] > depth[ins[y].id()];
    });
    stack.push_back(Frame{a, std::move(order), 0});
  };
  for (auto& o : outputs) {
    if (!depth.count(o.id()) || done.count(o.id())) continue;
    mark_done(o);
    push(o);
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.pos < f.order.size()) {
        const array& in = f.node.inputs()[f.order[f.pos++]];
        if (!done.count(in.id())) {
          mark_done(in);
          push(in);
        }
        continue;
      }
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
  std::unordered_set<const void*> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& o : outputs) {
    if (o.status() == array::Status::unscheduled && !o.has_primitive())
      throw std::invalid_argument(
          "[eval] Attempting to evaluate a placeholder array: arrays traced by vmap or "
          "compile cannot be evaluated inside the transformed function.");
    if (o.status() != array::Status::unscheduled || !o.has_primitive()) continue;
    if (!seen.insert(o.id()).second) continue;
    stack.emplace_back(o, 0);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      auto& ins = node.inputs();
      if (i < ins.size()) {
        if (i == 1) branching = true;
        const array& in = ins[i++];
        if (in.status() == array::Status::unscheduled && !in.has_primitive())
          throw std::invalid_argument(
              "[eval] Attempting to evaluate a placeholder array: arrays traced by vmap or "
              "compile cannot be evaluated inside the transformed function.");
        if (in.status() == array::Status::unscheduled && in.has_primitive() &&
            seen.insert(in.id()).second) {
          for (auto& s : in.siblings()) seen.insert(s.id());
          stack.emplace_back(in, 0);
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
