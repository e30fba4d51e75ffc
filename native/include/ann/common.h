// Backend-neutral basics shared by every kernel and binding: dtypes, devices, errors, shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ann {

enum class DType : int { F32 = 0, I32 = 1 };
enum class Device : int { CPU = 0, CUDA = 1 };

inline size_t dtype_size(DType) { return 4; }
inline const char* dtype_name(DType d) { return d == DType::F32 ? "float32" : "int32"; }
inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// Every failure a user can cause is an ann::Error; the binding turns it into a JS exception.
struct Error : std::runtime_error {
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// "[2,3,5,5]": the form every error message uses for a shape.
inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

}  // namespace ann
