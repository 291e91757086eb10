// The small JSON reader and writer the file headers need (safetensors).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember::io {

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool integral = false;  // the number was written without fraction or exponent
  int64_t integer = 0;    // its value when integral and within int64
  std::string string;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;  // in file order

  const Json* find(const std::string& key) const;
};

// Parses `text`; malformed input throws std::invalid_argument naming `label`.
Json parse_json(const std::string& text, const std::string& label);
// `s` as a JSON string literal, quotes included.
std::string json_quote(const std::string& s);

}  // namespace ember::io
