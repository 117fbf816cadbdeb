// Offline tools report failures as exceptions that carry a complete
// sentence: the file, what was found and what was expected.
#ifndef EDGEMLP_TRAINER_ERROR_H_
#define EDGEMLP_TRAINER_ERROR_H_

#include <stdexcept>
#include <string>

namespace edgemlp {

// A problem with an input (file, data, option): the user can fix it.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_ERROR_H_
