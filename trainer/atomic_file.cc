#include "atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The writer's pid if `name` is one of `base`'s temporary files
// (BASE.tmp.PID.XXXXXX), else 0.
pid_t TempFileOwner(const std::string& name, const std::string& base) {
  const std::string prefix = base + ".tmp.";
  if (name.compare(0, prefix.size(), prefix) != 0) return 0;
  const char* digits = name.c_str() + prefix.size();
  char* end = nullptr;
  errno = 0;
  const long pid = std::strtol(digits, &end, 10);
  if (end == digits || *digits < '0' || *digits > '9' || errno != 0 || pid <= 0 ||
      pid != static_cast<pid_t>(pid) || *end != '.' || std::strlen(end + 1) != 6) {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

// Removes the temporary files a killed writer of `path` left behind: only
// those whose writer no longer exists (kill(pid, 0) fails with ESRCH), so
// another live process's write in progress is never touched. Best effort.
void RemoveStaleTempFiles(const std::string& path) {
  const std::string dir = DirName(path), base = BaseName(path);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* entry = readdir(d)) {
    const pid_t pid = TempFileOwner(entry->d_name, base);
    if (pid == 0 || pid == getpid()) continue;
    if (kill(pid, 0) == -1 && errno == ESRCH) {
      unlink((dir + "/" + entry->d_name).c_str());
    }
  }
  closedir(d);
}

[[noreturn]] void Fail(const std::string& path, const char* what, int err) {
  throw InputError(path + ": cannot write (" + what + ": " + std::strerror(err) + ")");
}

}  // namespace

void WriteFileAtomic(const std::string& path, const void* data, size_t size) {
  // The pid in the name lets a later write tell a dead writer's leftover
  // from a write in progress.
  std::string tmpl = path + ".tmp." + std::to_string(getpid()) + ".XXXXXX";
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
  RemoveStaleTempFiles(path);
  // Make the rename (and the removals) durable.
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
