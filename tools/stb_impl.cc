// The stb decoders, compiled here rather than taken from libstb so that only
// the formats edgemlp accepts are reachable from untrusted files (every other
// decoder is attack surface), with sides capped before any allocation.
#include "image.h"

#define STBI_ONLY_PNG
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS edgemlp::kMaxImageSide
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

// PNG writing (cli/plots.cc: the sheet of misclassified digits).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
