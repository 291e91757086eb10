// Devices and streams.
#pragma once

#include <variant>

namespace ember {

struct Device {
  enum class Type { cpu, gpu };
  Type type = Type::cpu;
  int index = 0;
  static constexpr Type cpu = Type::cpu;
  static constexpr Type gpu = Type::gpu;
  Device() = default;
  Device(Type t, int i = 0) : type(t), index(i) {}
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

struct Stream {
  int index = 0;
  Device device;
  Stream() = default;
  Stream(int i, Device d) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index; }
  bool operator!=(const Stream& o) const { return index != o.index; }
};

// Every op takes one of these: nothing (the default stream), a device, or a stream.
using StreamOrDevice = std::variant<std::monostate, Stream, Device>;

const Device& default_device();
void set_default_device(const Device& d);
bool is_available(const Device& d);
Stream default_stream(const Device& d);
void set_default_stream(const Stream& s);
Stream new_stream(const Device& d);
Stream to_stream(const StreamOrDevice& s);
void synchronize(const Stream& s);
void synchronize();

}  // namespace ember
