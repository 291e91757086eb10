// Evaluation of the collective primitives: row-contiguous buffers handed to the group's
// backend. The call blocks this stream's worker until the other ranks take part.
#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"
#include "ember/primitives/distributed.h"

namespace ember {

using namespace cpu;

void AllReduce::eval_cpu(const std::vector<array>& in, array& out) {
  array x = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  group_.impl()->all_reduce(x.raw_ptr(), out.raw_ptr(), out.size(), out.dtype(), op_);
}

void AllGather::eval_cpu(const std::vector<array>& in, array& out) {
  array x = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  group_.impl()->all_gather(x.raw_ptr(), out.raw_ptr(), x.size(), out.dtype());
}

void SumScatter::eval_cpu(const std::vector<array>& in, array& out) {
  array x = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (out.size() == 0) return;
  group_.impl()->sum_scatter(x.raw_ptr(), out.raw_ptr(), out.size(), out.dtype());
}

void Send::eval_cpu(const std::vector<array>& in, array& out) {
  array x = ensure_row_contiguous(in[0]);
  if (x.size() > 0) group_.impl()->send(x.raw_ptr(), x.size(), x.dtype(), peer_);
  out.copy_shared_buffer(x);
}

void Recv::eval_cpu(const std::vector<array>&, array& out) {
  alloc_out(out);
  if (out.size() == 0) return;
  group_.impl()->recv(out.raw_ptr(), out.size(), out.dtype(), peer_);
}

}  // namespace ember
