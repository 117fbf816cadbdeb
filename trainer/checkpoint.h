// Training checkpoints: the whole TrainState (model, optimizer moments, RNG,
// counters, best model, history) plus the TrainConfig it belongs to, so an
// interrupted run continues to exactly the weights an uninterrupted one
// reaches (same seed and thread count).
//
// One file, DIR/checkpoint.emck, written with WriteFileAtomic: a crash leaves
// the previous complete checkpoint. Layout (little-endian): "EMLPCKPT",
// u32 version, u32 CRC32 of the payload, u64 payload bytes, payload. The
// reader treats the file as untrusted: every count is checked against the
// bytes left before anything is allocated from it.
#ifndef EDGEMLP_TRAINER_CHECKPOINT_H_
#define EDGEMLP_TRAINER_CHECKPOINT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "train.h"

namespace edgemlp {

struct Checkpoint {
  TrainConfig config;
  TrainState state;
  std::string note;  // the caller's own record (the CLI: its options, JSON)
};

// DIR/checkpoint.emck
std::string CheckpointPath(const std::string& dir);
bool CheckpointExists(const std::string& dir);

std::vector<uint8_t> SerializeCheckpoint(const Checkpoint& checkpoint);
// Throws InputError naming `name` and what was expected.
Checkpoint ParseCheckpoint(const uint8_t* bytes, size_t size,
                           const std::string& name);

// Creates DIR if needed; atomic. Throws InputError.
void SaveCheckpoint(const Checkpoint& checkpoint, const std::string& dir);
Checkpoint LoadCheckpoint(const std::string& dir);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_CHECKPOINT_H_
