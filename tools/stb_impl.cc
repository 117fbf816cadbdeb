// stb_image_write for cli/plots.cc (the sheet of misclassified digits). Image
// decoding lives in preprocess/ (allocation-free, with the checks stb lacks).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
