// WriteFileAtomic: the target gets exactly the new bytes, no temporary file is
// left, and leftovers of killed writers of the same target are removed while
// a live process's write in progress is left alone.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "error.h"
#include "test_util.h"

namespace edgemlp {
namespace {

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void Touch(const std::string& path) { std::ofstream(path) << "partial"; }

// A child that has exited and been reaped: its pid names no process (until
// the kernel reuses it, which takes a full wrap of the pid space).
pid_t DeadPid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  REQUIRE(pid > 0);
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  return pid;
}

// A child that stays alive until Stop().
class LiveChild {
 public:
  LiveChild() : pid_(fork()) {
    if (pid_ == 0) {
      for (;;) pause();
    }
    REQUIRE(pid_ > 0);
  }
  ~LiveChild() { Stop(); }
  pid_t pid() const { return pid_; }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST_CASE("WriteFileAtomic replaces the target and leaves no temporary file") {
  test::TempDir dir;
  const std::string target = dir.File("out.bin");
  WriteFileAtomic(target, std::string("old"));
  WriteFileAtomic(target, std::string("new contents"));
  const std::vector<uint8_t> got = test::ReadBytes(target);
  CHECK(std::string(got.begin(), got.end()) == "new contents");
  CHECK(Names(dir.path()) == std::vector<std::string>{"out.bin"});
  struct stat st {};
  REQUIRE(stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK_THROWS_AS(WriteFileAtomic(dir.File("no/such/dir/x"), std::string("x")), InputError);
}

TEST_CASE("a successful write removes dead writers' temporary files of its target only") {
  test::TempDir dir;
  const std::string dead = std::to_string(DeadPid());
  LiveChild live;
  const std::string alive = std::to_string(live.pid());
  const std::vector<std::string> stale = {"out.bin.tmp." + dead + ".a1B2c3",
                                          "out.bin.tmp." + dead + ".zzzzzz"};
  const std::vector<std::string> kept = {
      "out.bin.tmp." + alive + ".Qw3rTy",   // a live process is writing out.bin
      "other.bin.tmp." + dead + ".a1B2c3",  // another target's leftover
      "out.bin.tmp.a1B2c3",                 // no pid (older edgemlp): unknown writer
      "out.bin.tmp." + dead + ".long-suffix",
      "out.bin.tmp.-1.a1B2c3",
      "out.bin.tmp.0.a1B2c3",
      "out.bin.tmp.99999999999999999999.a1B2c3",
      "out.bin.old",
  };
  for (const auto& name : stale) Touch(dir.File(name));
  for (const auto& name : kept) Touch(dir.File(name));
  WriteFileAtomic(dir.File("out.bin"), std::string("new"));
  std::vector<std::string> want = kept;
  want.push_back("out.bin");
  std::sort(want.begin(), want.end());
  CHECK(Names(dir.path()) == want);
  // Once the live writer is gone, its leftover goes with the next write.
  live.Stop();
  WriteFileAtomic(dir.File("out.bin"), std::string("newer"));
  want.erase(std::find(want.begin(), want.end(), "out.bin.tmp." + alive + ".Qw3rTy"));
  CHECK(Names(dir.path()) == want);
}

}  // namespace
}  // namespace edgemlp
