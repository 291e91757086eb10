// Linear regression by gradient descent, in the style of MLX's C++ example: the data
// come from known weights plus noise, and training must recover them. The training
// step is compiled; the result is checked against the least-squares closed form.
#include <cmath>
#include <iostream>

#include "check.h"
#include "ember/ember.h"

using namespace ember;

int main() {
  int num_features = 16;
  int num_examples = 1'000;
  int num_iters = 200;
  float learning_rate = 0.5f;

  // True parameters, the design matrix and noisy labels.
  random::seed(7);
  auto w_star = random::normal({num_features});
  auto X = random::normal({num_examples, num_features});
  auto eps = 1e-2 * random::normal({num_examples});
  auto y = matmul(X, w_star) + eps;

  // Initial parameters.
  array w = 1e-2 * random::normal({num_features});
  std::cout << "X has shape " << X.shape() << " and dtype " << X.dtype() << std::endl;
  check(w.dtype() == float32, "a double times a float32 array stays float32");

  auto loss_fn = [&](array w) {
    auto yhat = matmul(X, w);
    return (0.5f / num_examples) * sum(square(yhat - y));
  };
  auto grad_fn = grad(loss_fn);

  // One training step, compiled once and replayed.
  auto step = compile([&](const std::vector<array>& in) {
    return std::vector<array>{in[0] - learning_rate * grad_fn(in[0])};
  });
  auto initial_loss = loss_fn(w).item<float>();
  for (int it = 0; it < num_iters; ++it) {
    w = step({w})[0];
    eval(w);
  }

  auto loss = loss_fn(w);
  auto error_norm = std::sqrt(sum(square(w - w_star)).item<float>());
  std::cout << "Loss " << loss << ", |w - w*| = " << error_norm << std::endl;

  // Least squares: (X^T X) w = X^T y, solved by the same descent run to convergence in
  // float64 as an independent check of the compiled float32 loop.
  auto Xd = astype(X, float64), yd = astype(y, float64);
  auto gram = matmul(transpose(Xd), Xd) / (double)num_examples;
  auto rhs = matmul(transpose(Xd), yd) / (double)num_examples;
  auto w_ls = zeros({num_features}, float64);
  for (int it = 0; it < 500; ++it) w_ls = w_ls - 0.5 * (matmul(gram, w_ls) - rhs);
  eval(w_ls);

  check(loss.item<float>() < initial_loss / 100, "training reduces the loss a hundredfold");
  check(error_norm < 5e-3, "the weights are recovered up to the noise");
  check(allclose(astype(w, float64), w_ls, 1e-4, 1e-4), "descent reaches the least-squares solution");
  check_close(loss.item<float>(), 0.5 * 1e-4, 0.5, "the remaining loss is the noise's");
  if (failures() == 0) std::cout << "linear_regression: all checks passed" << std::endl;
  return failures() == 0 ? 0 : 1;
}
