// A tiny checker shared by the example programs: report a failed expectation and
// remember it for the exit status.
#pragma once

#include <cmath>
#include <iostream>
#include <string>

inline int& failures() {
  static int n = 0;
  return n;
}

inline void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << "\n";
    ++failures();
  }
}

inline void check_close(double got, double want, double tol, const std::string& what) {
  check(std::fabs(got - want) <= tol * (1.0 + std::fabs(want)),
        what + ": got " + std::to_string(got) + ", want " + std::to_string(want));
}
