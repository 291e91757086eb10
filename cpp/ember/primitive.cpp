#include "ember/primitive.h"

#include "ember/ops/common.h"

#include <string>

namespace ember {

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() + "] vjp not implemented.");
}

std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] jvp not implemented.");
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&,
                                                                 const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] Primitive's vmap not implemented.");
}

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() +
                              "] Cannot infer output shapes (not shapeless).");
}

std::vector<Shape> Primitive::replay_shapes(const std::vector<array>& inputs,
                                            const std::vector<array>& traced_inputs,
                                            const std::vector<array>& traced_outputs) {
  try {
    return output_shapes(inputs);
  } catch (const std::invalid_argument&) {
    bool same = inputs.size() == traced_inputs.size();
    for (size_t i = 0; same && i < inputs.size(); ++i) same = inputs[i].shape() == traced_inputs[i].shape();
    if (!same) {
      auto shapes = [](const std::vector<array>& v) {
        std::string s;
        for (auto& a : v) s += (s.empty() ? "" : ", ") + shape_str(a.shape());
        return s;
      };
      throw std::invalid_argument(std::string("[compile] Cannot replay ") + name() +
                                  " with shapeless=True: its output shape was fixed at trace time "
                                  "for inputs of shape " + shapes(traced_inputs) + ", and they now have "
                                  "shape " + shapes(inputs) + ".");
    }
    std::vector<Shape> out;
    for (auto& o : traced_outputs) out.push_back(o.shape());
    return out;
  }
}

}  // namespace ember
