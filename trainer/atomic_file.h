// Every file edgemlp writes goes through here: a temporary file in the same
// directory, flushed and fsynced, then renamed over the target, so a crash
// leaves either the old complete file or the new complete one. The temporary
// file is PATH.tmp.PID.XXXXXX; a successful write removes those of PATH whose
// writer process is dead (killed mid-write), never a live process's.
#ifndef EDGEMLP_TRAINER_ATOMIC_FILE_H_
#define EDGEMLP_TRAINER_ATOMIC_FILE_H_

#include <cstddef>
#include <string>

namespace edgemlp {

// Throws InputError naming the path on any failure; the target is untouched.
void WriteFileAtomic(const std::string& path, const void* data, size_t size);
void WriteFileAtomic(const std::string& path, const std::string& text);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_ATOMIC_FILE_H_
