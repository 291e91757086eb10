// A program that embeds the Ember static library.
#include <cmath>
#include <cstdio>

#include <ember/ember.h>

using namespace ember;

int main() {
  array a({1.0f, 2.0f});
  array b = array(3.0f);
  array c = reshape(arange(6.0f), {3, 2});
  array d = sum(exp(c) + 1.0f, std::vector<int>{0});
  array e = matmul(c, transpose(c)) * b + a.shape(0);
  eval(d, e);
  std::printf("d = [%.4f, %.4f]\n", d.data<float>()[0], d.data<float>()[1]);
  std::printf("e[2,2] = %.1f\n", e.data<float>()[8]);
  std::printf("shape = (%d, %d), item = %.1f\n", e.shape(0), e.shape(1), sum(e).item<float>());
  // d[0] = sum(exp([0, 2, 4])) + 3, e[2,2] = (16 + 25) * 3 + 2
  bool ok = std::fabs(d.data<float>()[0] - (1.0f + std::exp(2.0f) + std::exp(4.0f) + 3.0f)) < 1e-3f &&
            e.data<float>()[8] == 125.0f;
  return ok ? 0 : 1;
}
