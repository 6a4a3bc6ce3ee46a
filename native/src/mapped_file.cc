// mapFile(path) -> ArrayBuffer: the whole file mapped read-only (MAP_SHARED, PROT_READ).
// Decoded image-folder datasets larger than the memory budget are read through this, so
// the OS pages images in as the trainer's batches touch them and may drop them again under
// memory pressure, instead of the process holding the whole file. The mapping lives as long
// as the ArrayBuffer: its finaliser unmaps it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addon.h"
#include "args.h"

namespace dsx_addon {

Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = dsx::args::str(info[0], "mapFile(path): path");
  if (path.empty() || path.find('\0') != std::string::npos) dsx::args::range_error("mapFile(path): path must be a file path without NUL bytes");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw Napi::Error::New(env, path + ": " + std::strerror(e));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);  // the mapping keeps the file open
  if (p == MAP_FAILED) throw Napi::Error::New(env, path + ": mmap failed: " + std::strerror(e));
  // batches are gathered in shuffled order: no read-ahead past the page asked for
  ::madvise(p, size, MADV_RANDOM);
  return Napi::ArrayBuffer::New(
      env, p, size, [](Napi::Env, void* data, size_t* len) { ::munmap(data, *len); delete len; },
      new size_t(size));
}

}  // namespace dsx_addon
