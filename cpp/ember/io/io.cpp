// Files as byte sources and sinks, and the helpers the formats share.
#include "ember/io/io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "ember/allocator.h"
#include "ember/ops.h"
#include "ember/scheduler.h"

namespace ember::io {

namespace {

std::system_error os_error(const std::string& what, const std::string& path) {
  return std::system_error(errno, std::generic_category(), what + " " + path);
}

class FileReader : public Reader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) throw file_not_found("[load] No such file: " + path);
      throw os_error("[load] Cannot open", path);
    }
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw os_error("[load] Cannot read the size of", path);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw std::invalid_argument("[load] " + path + " is a directory, not a file.");
    }
    size_ = (uint64_t)st.st_size;
  }
  ~FileReader() override { ::close(fd_); }
  std::string label() const override { return path_; }
  uint64_t size() override { return size_; }
  void read(void* dst, size_t n, uint64_t offset) override {
    if (offset > size_ || n > size_ - offset) bad_file(path_, "the file ends before the data it describes");
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      // Large reads go in pieces (the kernel caps one read near 2 GiB).
      size_t chunk = std::min<size_t>(n, size_t(1) << 30);
      ssize_t r = ::pread(fd_, p, chunk, (off_t)offset);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw os_error("[load] Read error in", path_);
      }
      if (r == 0) bad_file(path_, "the file ends before the data it describes");
      p += r;
      n -= (size_t)r;
      offset += (uint64_t)r;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

class MemoryReader : public Reader {
 public:
  MemoryReader(const void* data, size_t n, std::string label)
      : data_(static_cast<const char*>(data)), n_(n), label_(std::move(label)) {}
  std::string label() const override { return label_; }
  uint64_t size() override { return n_; }
  void read(void* dst, size_t n, uint64_t offset) override {
    if (offset > n_ || n > n_ - offset) bad_file(label_, "the data ends before what it describes");
    if (n) std::memcpy(dst, data_ + offset, n);
  }

 private:
  const char* data_;
  size_t n_;
  std::string label_;
};

class FileWriter : public Writer {
 public:
  explicit FileWriter(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      if (errno == ENOENT) throw file_not_found("[save] No such directory for the file: " + path);
      throw os_error("[save] Cannot open for writing", path);
    }
  }
  ~FileWriter() override { ::close(fd_); }
  std::string label() const override { return path_; }
  void write(const void* src, size_t n) override {
    const char* p = static_cast<const char*>(src);
    while (n > 0) {
      ssize_t r = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw os_error("[save] Write error in", path_);
      }
      p += r;
      n -= (size_t)r;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<Reader> open_reader(const std::string& path) { return std::make_unique<FileReader>(path); }
std::unique_ptr<Writer> open_writer(const std::string& path) { return std::make_unique<FileWriter>(path); }
std::unique_ptr<Reader> memory_reader(const void* data, size_t n, std::string label) {
  return std::make_unique<MemoryReader>(data, n, std::move(label));
}

void bad_file(const std::string& label, const std::string& what) {
  throw std::invalid_argument("[load] " + label + ": " + what + ".");
}

array read_array(Reader& in, uint64_t offset, Shape shape, Dtype dtype, const std::string& what) {
  for (auto d : shape)
    if (d < 0) bad_file(in.label(), what + " has a negative dimension");
  int64_t n = checked_size(shape, dtype, "load");
  uint64_t bytes = (uint64_t)n * size_of(dtype);
  // Check against the file before allocating: a corrupt size never becomes a huge request.
  if (offset > in.size() || bytes > in.size() - offset)
    bad_file(in.label(), what + " needs " + std::to_string(bytes) + " bytes at offset " +
                             std::to_string(offset) + " but the file has " + std::to_string(in.size()));
  array out(std::move(shape), dtype, nullptr, {});
  auto buf = std::make_shared<Data>(std::max<uint64_t>(bytes, 1));
#ifdef MADV_NOHUGEPAGE
  // The read itself is the first touch of the buffer: small pages fault in several times
  // faster than huge ones here, and a buffer read once from a file gains little from them.
  if (bytes >= (64u << 20)) {
    uintptr_t lo = ((uintptr_t)buf->ptr + 4095) & ~uintptr_t(4095);
    uintptr_t hi = ((uintptr_t)buf->ptr + bytes) & ~uintptr_t(4095);
    if (hi > lo) ::madvise((void*)lo, hi - lo, MADV_NOHUGEPAGE);
  }
#endif
  in.read(buf->ptr, bytes, offset);
  out.set_data(std::move(buf));
  out.set_status(array::Status::available);
  return out;
}

array contiguous_host(const array& a) {
  array x = a;
  ember::eval(x);
  if (x.flags().row_contiguous && x.data_size() == x.size()) return x;
  x = copy(x);  // a dense row-major copy
  ember::eval(x);
  return x;
}

}  // namespace ember::io
