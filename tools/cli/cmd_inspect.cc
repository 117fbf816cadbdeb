// edgemlp inspect: everything in a blob's header and layer records.
#include <algorithm>
#include <cstring>
#include <memory>

#include "cli/cli.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "cli/model_file.h"
#include "cli/provenance.h"

namespace edgemlp::cli {

namespace {

struct InspectOptions {
  std::string blob;
  bool verify = false;
  bool json = false;
};

// Runs the known-answer vector on every SIMD target and the reference.
// Returns {"ok", "targets": {name: bool}, "reference", "message"}.
Json Verify(const ModelFile& f, std::string* human) {
  Json j = {{"ok", false}};
  Network net;
  LoadResult r = Network::Load(f.bytes(), f.size, &net);
  if (r.ok() && !net.blob().has_test_vector()) r = net.SelfTest();
  if (!r.ok()) {
    j["message"] = r.message;
    *human += "verify: FAILED: " + r.message + "\n";
    return j;
  }
  bool ok = true;
  Json targets = Json::object();
  std::string failures;
  const std::vector<int64_t> available = AvailableTargets();
  for (int64_t t : available) {
    ForceTarget(t);
    const LoadResult t_r = net.SelfTest();
    targets[TargetName(t)] = t_r.ok();
    if (!t_r.ok()) failures += t_r.message + "; ";
    ok = ok && t_r.ok();
  }
  ForceTarget(0);
  // The reference, the same way SelfTest compares.
  std::vector<int32_t> logits(net.output_size());
  const FileHeader& h = f.view.header;
  net.PredictRef(f.bytes() + f.view.ext.kat_input_offset, logits.data());
  const bool ref_ok = std::memcmp(logits.data(), f.bytes() + f.view.ext.kat_output_offset,
                                  4 * h.output_size) == 0;
  ok = ok && ref_ok && !available.empty();
  j = {{"ok", ok}, {"targets", targets}, {"reference", ref_ok}};
  if (!failures.empty()) j["message"] = failures;
  *human += std::string("verify: known-answer vector ") + (ok ? "matches" : "MISMATCH") +
            " on the scalar reference" + (ref_ok ? "" : " (FAILED)") + " and " +
            std::to_string(available.size()) + " SIMD targets:";
  for (auto it = targets.begin(); it != targets.end(); ++it) {
    *human += " " + it.key() + (it.value().get<bool>() ? "" : " (FAILED)");
  }
  *human += "\n";
  return j;
}

template <typename T>
T ReadAt(const uint8_t* bytes, uint64_t offset) {
  T v;
  std::memcpy(&v, bytes + offset, sizeof(T));
  return v;
}

// The input transform (format 1.2): kind, sizes, and the area shape or the
// range of the affine scales and offsets; kind "none" without one.
Json TransformJson(const BlobView& view, std::string* human) {
  const InputTransform t = view.input_transform();
  const uint32_t in = view.header.input_size;
  Json j = {{"kind", InputTransformKindName(t.kind)},
            {"in_size", in},
            {"out_size", t.kind == InputTransformKind::kNone ? in : t.out_size},
            {"offset", view.ext.input_transform_offset},
            {"size", view.ext.input_transform_size}};
  char line[200];
  if (t.kind == InputTransformKind::kArea) {
    j["in_rows"] = t.in_rows;
    j["in_cols"] = t.in_cols;
    j["out_rows"] = t.out_rows;
    j["out_cols"] = t.out_cols;
    std::snprintf(line, sizeof(line),
                  "input transform: area %ux%u -> %ux%u (%u -> %u values), section @%u\n",
                  t.in_rows, t.in_cols, t.out_rows, t.out_cols, t.in_size, t.out_size,
                  view.ext.input_transform_offset);
  } else if (t.kind == InputTransformKind::kAffine) {
    const auto [smin, smax] = std::minmax_element(t.scale, t.scale + t.in_size);
    const auto [omin, omax] = std::minmax_element(t.offset, t.offset + t.in_size);
    j["scale_min"] = *smin;
    j["scale_max"] = *smax;
    j["offset_min"] = *omin;
    j["offset_max"] = *omax;
    std::snprintf(line, sizeof(line),
                  "input transform: affine, %u float features -> u8, scale %.6g..%.6g, "
                  "offset %.6g..%.6g, section @%u\n",
                  t.in_size, *smin, *smax, *omin, *omax, view.ext.input_transform_offset);
  } else {
    std::snprintf(line, sizeof(line), "input transform: none\n");
  }
  *human += line;
  return j;
}

void RunInspect(const InspectOptions& o) {
  const ModelFile f = ReadModelFile(o.blob, /*verify_crc=*/false);
  const FileHeader& h = f.view.header;
  char crc[16];
  std::snprintf(crc, sizeof(crc), "0x%08x", h.crc32);
  Json layers = Json::array();
  std::string human;
  // Weight bytes as a model's size is quoted: in x out weights at their bit
  // width; the blob stores each row padded to 64 bytes (stored_weight_bytes).
  uint64_t weight_count = 0, weight_bits = 0, stored_weight_bits = 0;
  char line[320];
  std::snprintf(line, sizeof(line),
                "%s: edgemlp blob v%u.%u, %s, %u bytes, CRC32 %s (%s)\n"
                "input %u (%ux%u) real = pixel * %g + %g, output %u, %u layers\n",
                o.blob.c_str(), h.version_major, h.version_minor,
                BlobKindName(static_cast<BlobKind>(h.kind)), h.file_size, crc,
                f.checksum_ok ? "ok" : "MISMATCH", h.input_size, h.input_rows, h.input_cols,
                h.input_scale, h.input_offset, h.output_size, h.layer_count);
  human += line;
  for (size_t i = 0; i < f.view.layers.size(); ++i) {
    const LayerRecord& l = f.view.layers[i];
    Json layer = {{"in_size", l.in_size}, {"out_size", l.out_size}, {"stride", l.stride},
                  {"activation", ActivationName(static_cast<Activation>(l.activation))},
                  {"weight_type", WeightTypeName(static_cast<WeightType>(l.weight_type))},
                  {"weights_offset", l.weights_offset}, {"bias_offset", l.bias_offset},
                  {"calib_max", l.calib_max}};
    const uint64_t bits = WeightBits(l.weight_type);
    layer["weights"] = uint64_t{l.in_size} * l.out_size;
    layer["weight_bytes"] = (uint64_t{l.in_size} * l.out_size * bits + 7) / 8;
    weight_count += uint64_t{l.in_size} * l.out_size;
    weight_bits += uint64_t{l.in_size} * l.out_size * bits;
    stored_weight_bits += uint64_t{l.stride} * l.out_size * bits;
    std::snprintf(line, sizeof(line),
                  "  layer %zu: %u -> %u, %s weights, stride %u, %s, weights @%u, bias @%u", i,
                  l.in_size, l.out_size, WeightTypeName(static_cast<WeightType>(l.weight_type)), l.stride,
                  ActivationName(static_cast<Activation>(l.activation)), l.weights_offset, l.bias_offset);
    human += line;
    if (f.is_int8()) {
      float smin = 1e30f, smax = 0;
      int32_t shift_min = 99, shift_max = 0;
      for (uint32_t r = 0; r < l.out_size; ++r) {
        const float s = ReadAt<float>(f.bytes(), l.weight_scale_offset + 4ull * r);
        smin = std::min(smin, s);
        smax = std::max(smax, s);
        const int32_t shift = ReadAt<int32_t>(f.bytes(), l.requant_offset + 8ull * r + 4);
        shift_min = std::min(shift_min, shift);
        shift_max = std::max(shift_max, shift);
      }
      layer["weight_scale_offset"] = l.weight_scale_offset;
      layer["requant_offset"] = l.requant_offset;
      layer["in_scale"] = l.in_scale;
      layer["out_scale"] = l.out_scale;
      layer["weight_scale_min"] = smin;
      layer["weight_scale_max"] = smax;
      layer["requant_shift_min"] = shift_min;
      layer["requant_shift_max"] = shift_max;
      std::snprintf(line, sizeof(line),
                    "\n           in_scale %.6g out_scale %.6g, weight scales %.3g..%.3g, "
                    "requant shifts %d..%d",
                    l.in_scale, l.out_scale, smin, smax, shift_min, shift_max);
      human += line;
    }
    human += "\n";
    layers.push_back(layer);
  }
  const HeaderExtension& ext = f.view.ext;
  const Json transform = TransformJson(f.view, &human);
  const Json provenance = ParseProvenance(f.view.metadata());
  if (ext.metadata_size != 0) {
    human += "provenance @" + std::to_string(ext.metadata_offset) + " (" +
             std::to_string(ext.metadata_size) + " bytes): " + provenance.dump(2) + "\n";
  } else {
    human += "provenance: none (format 1.0)\n";
  }
  std::snprintf(line, sizeof(line), "weights: %llu, %llu bytes (%llu stored, rows padded to 64 bytes)\n",
                static_cast<unsigned long long>(weight_count),
                static_cast<unsigned long long>((weight_bits + 7) / 8),
                static_cast<unsigned long long>((stored_weight_bits + 7) / 8));
  human += line;
  human += f.view.has_test_vector()
               ? "known-answer vector: input @" + std::to_string(ext.kat_input_offset) +
                     ", expected logits @" + std::to_string(ext.kat_output_offset) + "\n"
               : "known-answer vector: none\n";
  Json j = {{"file", o.blob},
                  {"magic", "EMLP"},
                  {"version_major", h.version_major},
                  {"version_minor", h.version_minor},
                  {"kind", BlobKindName(static_cast<BlobKind>(h.kind))},
                  {"file_size", h.file_size},
                  {"header_size", h.header_size},
                  {"layer_record_size", h.layer_record_size},
                  {"layer_count", h.layer_count},
                  {"input_size", h.input_size},
                  {"input_rows", h.input_rows},
                  {"input_cols", h.input_cols},
                  {"input_scale", h.input_scale},
                  {"input_offset", h.input_offset},
                  {"output_size", h.output_size},
                  {"flags", h.flags},
                  {"crc32", crc},
                  {"checksum_ok", f.checksum_ok},
                  {"layers", layers},
                  {"weight_count", weight_count},
                  {"weight_bytes", (weight_bits + 7) / 8},
                  {"stored_weight_bytes", (stored_weight_bits + 7) / 8},
                  {"input_transform", transform},
                  {"metadata_offset", ext.metadata_offset},
                  {"metadata_size", ext.metadata_size},
                  {"provenance", provenance},
                  {"test_vector", f.view.has_test_vector()},
                  {"test_vector_input_offset", ext.kat_input_offset},
                  {"test_vector_output_offset", ext.kat_output_offset}};
  bool verified = true;
  if (o.verify) {
    if (!f.is_int8()) throw InputError(o.blob + ": --verify applies to integer blobs");
    if (!f.checksum_ok) {
      j["verify"] = {{"ok", false}, {"message", "CRC32 mismatch"}};
      verified = false;
    } else {
      j["verify"] = Verify(f, &human);
      verified = j["verify"]["ok"].get<bool>();
    }
  }
  Emit(o.json, j, human);
  if (!f.checksum_ok) {
    throw InputError(o.blob + ": CRC32 mismatch: the file is damaged");
  }
  if (!verified) {
    throw InputError(o.blob + ": known-answer test failed: " +
                     j["verify"].value("message", std::string("wrong logits")));
  }
}

}  // namespace

void AddInspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a blob's header, layers, quantization and checksum");
  cmd->add_option("blob", o->blob, "int8 blob or float model")->required();
  cmd->add_flag("--verify", o->verify,
                "Run the blob's known-answer vector on every SIMD target and the reference");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunInspect(*o); });
}

}  // namespace edgemlp::cli
