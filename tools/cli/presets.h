// Named training recipes. A preset is a list of command-line arguments that
// stand before the user's own, so any option given explicitly still wins:
// `edgemlp train --preset NAME --epochs 3` is NAME with 3 epochs.
#ifndef EDGEMLP_TOOLS_PRESETS_H_
#define EDGEMLP_TOOLS_PRESETS_H_

#include <string>
#include <vector>

namespace edgemlp::cli {

struct Preset {
  std::string name;
  std::string description;  // what it is for and what it costs
  std::vector<std::string> args;
};

const std::vector<Preset>& Presets();
std::vector<std::string> PresetNames();

// In `args` (argv without the program name), inserts the arguments of the
// preset named by `--preset NAME` / `--preset=NAME` right after the
// subcommand. Throws InputError for an unknown preset.
void ExpandPreset(std::vector<std::string>* args);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_PRESETS_H_
