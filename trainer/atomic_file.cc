#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "error.h"

namespace edgemlp {

namespace {

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

[[noreturn]] void Fail(const std::string& path, const char* what, int err) {
  throw InputError(path + ": cannot write (" + what + ": " +
                   std::strerror(err) + ")");
}

}  // namespace

void WriteFileAtomic(const std::string& path, const void* data, size_t size) {
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) Fail(path, "create temporary file", errno);
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      unlink(name.data());
      Fail(path, "write", err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // mkstemp creates 0600; outputs are ordinary files.
  if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    unlink(name.data());
    Fail(path, "fsync", err);
  }
  if (close(fd) != 0) {
    const int err = errno;
    unlink(name.data());
    Fail(path, "close", err);
  }
  if (std::rename(name.data(), path.c_str()) != 0) {
    const int err = errno;
    unlink(name.data());
    Fail(path, "rename", err);
  }
  // Make the rename itself durable.
  const int dir = open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
}

void WriteFileAtomic(const std::string& path, const std::string& text) {
  WriteFileAtomic(path, text.data(), text.size());
}

}  // namespace edgemlp
