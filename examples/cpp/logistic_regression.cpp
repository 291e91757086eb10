// Logistic regression by gradient descent, in the style of MLX's C++ example, with
// per-example losses from vmap and a compiled value_and_grad step.
#include <cmath>
#include <iostream>

#include "check.h"
#include "ember/array.h"
#include "ember/compile.h"
#include "ember/ops.h"
#include "ember/random.h"
#include "ember/transforms.h"
#include "ember/utils.h"

namespace mx = ember;

int main() {
  int num_features = 10;
  int num_examples = 1'000;
  int num_iters = 300;
  float learning_rate = 1.0f;

  // True parameters, inputs and labels from a fixed key.
  auto keys = mx::random::split(mx::random::key(3), 3);
  auto key = [&](int i) { return mx::reshape(mx::slice(keys, {i, 0}, {i + 1, 2}), {2}); };
  auto w_star = mx::random::normal({num_features}, key(0));
  auto X = mx::random::normal({num_examples, num_features}, key(1));
  auto y = mx::matmul(X, w_star) > 0;
  mx::array w = 1e-2 * mx::random::normal({num_features}, key(2));
  mx::eval(X, y, w);  // the data are computed once, not again in every step

  auto loss_fn = [&](const std::vector<mx::array>& in) {
    auto logits = mx::matmul(X, in[0]);
    auto scale = (1.0f / num_examples);
    return std::vector<mx::array>{
        scale * mx::sum(mx::logaddexp(mx::array(0.0f), logits) - y * logits)};
  };

  // The compiled step returns the loss and the updated weights.
  auto value_grad = mx::value_and_grad(loss_fn);
  auto step = mx::compile([&](const std::vector<mx::array>& in) {
    auto [loss, grads] = value_grad(in);
    return std::vector<mx::array>{loss[0], in[0] - learning_rate * grads[0]};
  });
  float first_loss = 0.0f, loss = 0.0f;
  for (int it = 0; it < num_iters; ++it) {
    auto out = step({w});
    w = out[1];
    mx::eval(out);
    loss = out[0].item<float>();
    if (it == 0) first_loss = loss;
  }

  auto acc = mx::sum((mx::matmul(X, w) > 0) == y) / num_examples;
  std::cout << "Loss " << loss << ", Accuracy " << acc << std::endl;

  // The loss per example through vmap averages to the batch loss.
  auto example_loss = mx::vmap(
      [&](const std::vector<mx::array>& in) {
        auto logit = mx::sum(in[0] * w);
        return std::vector<mx::array>{mx::logaddexp(mx::array(0.0f), logit) - in[1] * logit};
      },
      {0, 0});
  auto per_example = example_loss({X, mx::astype(y, mx::float32)})[0];
  check(per_example.shape() == mx::Shape{num_examples}, "one loss per example");
  check_close(mx::mean(per_example).item<float>(), loss_fn({w})[0].item<float>(), 1e-5,
              "the mean of per-example losses is the batch loss");

  // The learned direction matches the true one (the scale is not identifiable).
  auto cosine = mx::sum(w * w_star) / mx::sqrt(mx::sum(w * w) * mx::sum(w_star * w_star));
  check(loss < first_loss / 4, "training reduces the loss");
  check(acc.item<float>() > 0.97f, "training accuracy above 97%");
  check(cosine.item<float>() > 0.95f, "the weights point along the true weights");
  check(acc.dtype() == mx::float32, "an integer count over an int is float32");
  if (failures() == 0) std::cout << "logistic_regression: all checks passed" << std::endl;
  return failures() == 0 ? 0 : 1;
}
