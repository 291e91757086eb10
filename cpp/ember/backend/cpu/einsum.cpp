// CPU forward of the contraction and diagonal family's primitives.
#include "ember/primitives.h"

namespace ember {

// A view: the diagonal axis steps along both plane axes at once.
void Diagonal::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a = in[0];
  Strides st;
  for (int d = 0; d < a.ndim(); ++d)
    if (d != axis1_ && d != axis2_) st.push_back(a.strides()[d]);
  st.push_back(a.strides()[axis1_] + a.strides()[axis2_]);
  int64_t off1 = std::max(-offset_, 0), off2 = std::max(offset_, 0);
  int64_t offset = out.size() == 0 ? 0 : off1 * a.strides()[axis1_] + off2 * a.strides()[axis2_];
  Flags f = view_flags(out.shape(), st);
  size_t dsize = f.contiguous ? out.size() : a.data_size();
  out.copy_shared_buffer(a, st, f, dsize, offset);
}

}  // namespace ember
