// What a model file must be before any target is started to serve it: the container its format
// and loader read (a PyTorch zip checkpoint, a pickle stream, safetensors), whole and well formed
// as far as can be seen without loading it. A truncated or corrupt file is bad input found by
// `validate`, not a harness error found when the model server fails to load it. Nothing in the
// file is executed: pickles are walked opcode by opcode, never unpickled.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "armorbench/workload/WorkloadSpec.h"

namespace armorbench {

enum class ModelContainer {
  kTorch,        // torch.load: a zip checkpoint, or a pickle stream (the legacy format, or a
                 // plain pickle, whose gadgets run before torch.load refuses it), or a tar
  kTorchScript,  // torch.jit.load: a zip checkpoint
  kPickle,       // pickle.load: one pickle stream
  kSafetensors,  // an 8-byte header length, a JSON header, the tensors' bytes
  kJoblib,       // joblib.load: a pickle stream with arrays' bytes between opcodes, or compressed
  kXgboost,      // Booster.load_model: XGBoost's JSON or UBJSON (both an object: '{')
  kOnnx,         // onnx.load: a protobuf ModelProto
};

// The container the model server reads for a declared `format` ("" for a file that stands in
// for the generated MLP's weights) and `loader`.
ModelContainer model_container(const std::string& format, Loader loader);

std::string to_string(ModelContainer container);  // "a PyTorch checkpoint", ...

// "" when `file` holds what `container` needs, else what is wrong with it (with the byte offset
// where there is one). Maps the file: only the zip directory and the pickles are read.
std::string model_file_problem(const std::filesystem::path& file, ModelContainer container);

// The same for a file's bytes.
std::string model_bytes_problem(std::string_view bytes, ModelContainer container);

}  // namespace armorbench
