// Collective communication between processes: groups and the collective ops.
//
// A group is a set of processes that talk to each other. With no communication backend (a
// single process started without a launcher) the global group has one member and every
// collective returns its input. The collectives are lazy ops: they build graph nodes whose
// evaluation talks to the other ranks, so they compose with grad, vmap and compile. All
// ranks of a group must evaluate the same collectives in the same order.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember::distributed {

// What a backend implements. Buffers are row-contiguous; `n` counts elements.
class GroupImpl {
 public:
  virtual ~GroupImpl() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::shared_ptr<GroupImpl> split(int color, int key) = 0;
  enum class ReduceOp { Sum, Max, Min };
  virtual void all_reduce(const void* in, void* out, size_t n, Dtype t, ReduceOp op) = 0;
  // `out` holds size() * n elements, rank r's `n` at offset r * n.
  virtual void all_gather(const void* in, void* out, size_t n, Dtype t) = 0;
  // `in` holds size() * n elements; `out` gets the sum of every rank's block number rank().
  virtual void sum_scatter(const void* in, void* out, size_t n, Dtype t) = 0;
  virtual void send(const void* in, size_t n, Dtype t, int dst) = 0;
  virtual void recv(void* out, size_t n, Dtype t, int src) = 0;
  virtual const char* backend() const = 0;
};

class Group {
 public:
  explicit Group(std::shared_ptr<GroupImpl> impl) : impl_(std::move(impl)) {}
  int rank() const;
  int size() const;
  // Ranks giving the same color form a new group, ordered by key (a negative key: by the
  // rank in this group).
  Group split(int color, int key = -1) const;
  const std::shared_ptr<GroupImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<GroupImpl> impl_;  // null for the single-process group
};

// Whether a backend ("any", "mpi", "ring", "nccl") can be loaded in this process.
bool is_available(const std::string& backend = "any");

// The global group. Without a backend (or when the process was not started by a launcher)
// a one-process group, unless `strict`, which raises instead. Later calls return the same
// group.
Group init(bool strict = false, const std::string& backend = "any");

array all_sum(const array& x, std::optional<Group> group = std::nullopt, StreamOrDevice s = {});
array all_max(const array& x, std::optional<Group> group = std::nullopt, StreamOrDevice s = {});
array all_min(const array& x, std::optional<Group> group = std::nullopt, StreamOrDevice s = {});
// Every rank's x concatenated along the first axis (a scalar gathers into a vector).
array all_gather(const array& x, std::optional<Group> group = std::nullopt,
                 StreamOrDevice s = {});
// all_sum(x) split along the first axis into size() blocks; this rank gets block rank().
array sum_scatter(const array& x, std::optional<Group> group = std::nullopt,
                  StreamOrDevice s = {});
// Sends x to rank dst; the result is x and must be evaluated for the send to happen.
array send(const array& x, int dst, std::optional<Group> group = std::nullopt,
           StreamOrDevice s = {});
array recv(Shape shape, Dtype dtype, int src, std::optional<Group> group = std::nullopt,
           StreamOrDevice s = {});
array recv_like(const array& x, int src, std::optional<Group> group = std::nullopt,
                StreamOrDevice s = {});

namespace detail {
// Paths tried first when the MPI library is looked for (the Python package adds the
// libraries of its environment); EMBER_MPI_LIBRARY in the environment comes before them.
void add_mpi_library_candidate(const std::string& path);
// The MPI backend (null when the library can't be loaded or the process was not started
// by an MPI launcher and `strict` is false).
std::shared_ptr<GroupImpl> mpi_init(bool strict);
bool mpi_available();
// Stops every process of the MPI job (MPI_Abort) when MPI is running; otherwise nothing. A
// process that fails calls it so that the others don't wait for it forever.
void mpi_abort(int code);
}  // namespace detail

}  // namespace ember::distributed
