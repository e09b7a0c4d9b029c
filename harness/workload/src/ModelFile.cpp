// Structural checks of model files (ModelFile.h): the zip directory of a PyTorch checkpoint, the
// opcodes of a pickle stream up to its STOP, the header of a safetensors file. Each check names
// the first thing a loader would trip over, with its byte offset.
#include "armorbench/workload/ModelFile.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Hex.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench {
namespace {

// A file's bytes, mapped read-only: a multi-gigabyte checkpoint is checked by touching only its
// zip directory and the pickle it holds.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat info {};
    if (!fd || ::fstat(fd.get(), &info) != 0) {
      problem_ = std::string("the file cannot be read: ") + std::strerror(errno);
      return;
    }
    if (!S_ISREG(info.st_mode)) {
      problem_ = "not a regular file";
      return;
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ == 0) return;
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) {
      problem_ = std::string("the file cannot be read: ") + std::strerror(errno);
      size_ = 0;
      return;
    }
    data_ = static_cast<const char*>(mapped);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }

  const std::string& problem() const { return problem_; }
  std::string_view bytes() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::string problem_;
};

std::uint64_t little_endian(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  return value;
}

std::string at_byte(std::uint64_t offset) {
  return " at byte " + std::to_string(offset);
}

std::string hex_byte(char byte) {
  const auto value = static_cast<std::uint8_t>(byte);
  return "0x" + to_hex({&value, 1});
}

// ---------------------------------------------------------------------------------------------
// Pickle

// How each opcode's argument is laid out (Python's Lib/pickletools.py, protocols 0 to 5).
enum class Argument {
  kNone,
  kLine,
  kTwoLines,
  kFixed,
  kLength1,
  kLength4,
  kSignedLength4,
  kLength8
};

struct OpcodeShape {
  Argument argument = Argument::kNone;
  int fixed = 0;  // bytes of a kFixed argument
};

struct OpcodeGroup {
  std::string_view opcodes;
  OpcodeShape shape;
};

// FRAME (0x95) has a fixed 8-byte argument, the frame's length: the frame's opcodes follow it.
constexpr OpcodeGroup kOpcodeGroups[] = {
    {std::string_view("(.012NQRabd}elo]st)u\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94"
                      "\x97\x98"),
     {Argument::kNone}},
    {"FILPSVgp", {Argument::kLine}},
    {"ci", {Argument::kTwoLines}},
    {"Khq\x80\x82", {Argument::kFixed, 1}},
    {"M\x83", {Argument::kFixed, 2}},
    {"Jjr\x84", {Argument::kFixed, 4}},
    {"G\x95", {Argument::kFixed, 8}},
    {"UC\x8a\x8c", {Argument::kLength1}},
    {"XB", {Argument::kLength4}},
    {"T\x8b", {Argument::kSignedLength4}},
    {"\x8d\x8e\x96", {Argument::kLength8}},
};

std::optional<OpcodeShape> opcode_shape(unsigned char opcode) {
  for (const OpcodeGroup& group : kOpcodeGroups)
    if (group.opcodes.find(static_cast<char>(opcode)) != std::string_view::npos) return group.shape;
  return std::nullopt;
}

// Walks the pickle starting at `offset` of `bytes` (`base` is the offset of `bytes` in the file,
// for messages) to its STOP opcode. Returns the offset after STOP, or nullopt with `problem` set.
std::optional<std::size_t> walk_pickle(std::string_view bytes, std::size_t offset,
                                       std::uint64_t base, std::string& problem) {
  const std::size_t size = bytes.size();
  const auto truncated = [&] {
    problem =
        "truncated pickle: the stream ends" + at_byte(base + size) + " before its STOP opcode";
    return std::nullopt;
  };
  const auto skip_line = [&](std::size_t& at) {
    const std::size_t newline = bytes.find('\n', at);
    if (newline == std::string_view::npos) return false;
    at = newline + 1;
    return true;
  };
  std::size_t at = offset;
  while (at < size) {
    const std::size_t opcode_at = at;
    const auto opcode = static_cast<unsigned char>(bytes[at++]);
    const auto shape = opcode_shape(opcode);
    if (!shape) {
      problem = "not a pickle: byte " + hex_byte(bytes[opcode_at]) + at_byte(base + opcode_at) +
                " is no pickle opcode";
      return std::nullopt;
    }
    std::uint64_t length = 0;
    switch (shape->argument) {
      case Argument::kNone:
        if (opcode == '.') return at;
        continue;
      case Argument::kLine:
        if (!skip_line(at)) return truncated();
        continue;
      case Argument::kTwoLines:
        if (!skip_line(at) || !skip_line(at)) return truncated();
        continue;
      case Argument::kFixed:
        length = static_cast<std::uint64_t>(shape->fixed);
        break;
      case Argument::kLength1:
      case Argument::kLength4:
      case Argument::kSignedLength4:
      case Argument::kLength8: {
        const int width = shape->argument == Argument::kLength1   ? 1
                          : shape->argument == Argument::kLength8 ? 8
                                                                  : 4;
        if (size - at < static_cast<std::size_t>(width)) return truncated();
        length = little_endian(bytes, at, width);
        if (shape->argument == Argument::kSignedLength4 && (length & 0x80000000u)) {
          problem = "corrupt pickle: a negative length" + at_byte(base + at);
          return std::nullopt;
        }
        at += static_cast<std::size_t>(width);
        break;
      }
    }
    if (length > size - at) return truncated();
    at += static_cast<std::size_t>(length);
  }
  return truncated();
}

// torch.save's legacy (non-zip) format: five pickles (this magic number, the protocol version,
// system info, the object, its storage keys), then the storages' raw bytes.
constexpr std::string_view kLegacyTorchMagic(
    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14);

std::string pickle_stream_problem(std::string_view bytes, bool torch) {
  if (!opcode_shape(static_cast<unsigned char>(bytes[0])))
    return std::string(torch ? "neither a zip archive nor a pickle" : "not a pickle") +
           " (its first byte is " + hex_byte(bytes[0]) + ")";
  std::string problem;
  const bool legacy = torch && bytes.substr(0, kLegacyTorchMagic.size()) == kLegacyTorchMagic;
  std::size_t at = 0;
  for (int i = 0; i < (legacy ? 5 : 1); ++i) {
    const auto next = walk_pickle(bytes, at, 0, problem);
    if (!next) return problem;
    at = *next;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Zip (APPNOTE.TXT: end of central directory, its zip64 form, central and local file headers)

constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64EndLocator = 0x07064b50;
constexpr std::uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;

bool is_zip(std::string_view bytes) {
  return bytes.size() >= 4 && (little_endian(bytes, 0, 4) == kLocalHeader ||
                               little_endian(bytes, 0, 4) == kEndOfDirectory);
}

struct ZipMember {
  std::string name;
  std::uint64_t data = 0;  // offset of its bytes
  std::uint64_t size = 0;  // compressed
  bool stored = false;     // method 0, bytes as they are
};

std::string zip_problem(std::string_view bytes) {
  const std::size_t size = bytes.size();
  // The end record is the last 22 bytes, before a comment of at most 65535.
  std::optional<std::size_t> end;
  if (size >= 22)
    for (std::size_t at = size - 22;; --at) {
      if (little_endian(bytes, at, 4) == kEndOfDirectory) {
        end = at;
        break;
      }
      if (at == 0 || size - at > 22 + 0xffff) break;
    }
  if (!end)
    return "truncated zip archive: no end-of-central-directory record (cut short, or not a zip "
           "archive)";
  std::uint64_t entries = little_endian(bytes, *end + 10, 2);
  std::uint64_t directory_size = little_endian(bytes, *end + 12, 4);
  std::uint64_t directory = little_endian(bytes, *end + 16, 4);
  std::uint64_t directory_limit = *end;  // the directory ends before the record that locates it
  if (entries == 0xffff || directory_size == 0xffffffff || directory == 0xffffffff) {
    if (*end < 20 || little_endian(bytes, *end - 20, 4) != kZip64EndLocator)
      return "corrupt zip archive: a zip64 end record is announced" + at_byte(*end) +
             " but not located";
    const std::uint64_t record = little_endian(bytes, *end - 20 + 8, 8);
    if (size < 56 || record > size - 56 || little_endian(bytes, record, 4) != kZip64EndOfDirectory)
      return "corrupt zip archive: no zip64 end-of-central-directory record" + at_byte(record);
    entries = little_endian(bytes, record + 32, 8);
    directory_size = little_endian(bytes, record + 40, 8);
    directory = little_endian(bytes, record + 48, 8);
    directory_limit = record;
  }
  if (directory > directory_limit || directory_size > directory_limit - directory)
    return "corrupt zip archive: its central directory (" + std::to_string(directory_size) +
           " bytes" + at_byte(directory) + ") lies outside the file";

  std::vector<ZipMember> members;
  std::uint64_t at = directory;
  const std::uint64_t directory_end = directory + directory_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (directory_end - at < 46 || little_endian(bytes, at, 4) != kCentralHeader)
      return "corrupt zip archive: central directory entry " + std::to_string(i + 1) + " of " +
             std::to_string(entries) + at_byte(at) + " is not a file header";
    ZipMember member;
    member.stored = little_endian(bytes, at + 10, 2) == 0;
    member.size = little_endian(bytes, at + 20, 4);
    std::uint64_t uncompressed = little_endian(bytes, at + 24, 4);
    const std::uint64_t name_length = little_endian(bytes, at + 28, 2);
    const std::uint64_t extra_length = little_endian(bytes, at + 30, 2);
    const std::uint64_t comment_length = little_endian(bytes, at + 32, 2);
    std::uint64_t local = little_endian(bytes, at + 42, 4);
    if (directory_end - at - 46 < name_length + extra_length + comment_length)
      return "corrupt zip archive: central directory entry " + std::to_string(i + 1) + at_byte(at) +
             " runs past the directory";
    member.name = std::string(bytes.substr(at + 46, name_length));
    // zip64: the fields that overflowed, in this order, in extra field 0x0001.
    for (std::uint64_t x = at + 46 + name_length; x + 4 <= at + 46 + name_length + extra_length;) {
      const std::uint64_t id = little_endian(bytes, x, 2), length = little_endian(bytes, x + 2, 2);
      std::uint64_t field = x + 4;
      const std::uint64_t field_end =
          std::min(field + length, at + 46 + name_length + extra_length);
      if (id == 1) {
        for (std::uint64_t* value : {&uncompressed, &member.size, &local})
          if (*value == 0xffffffff && field + 8 <= field_end) {
            *value = little_endian(bytes, field, 8);
            field += 8;
          }
      }
      x += 4 + length;
    }
    const std::string quoted = "'" + member.name + "'";
    if (local > directory || directory - local < 30 ||
        little_endian(bytes, local, 4) != kLocalHeader)
      return "corrupt zip archive: member " + quoted + " has no local header" + at_byte(local) +
             " (its central directory entry points elsewhere)";
    member.data =
        local + 30 + little_endian(bytes, local + 26, 2) + little_endian(bytes, local + 28, 2);
    if (member.data > directory || member.size > directory - member.data)
      return "corrupt zip archive: member " + quoted + " (" + std::to_string(member.size) +
             " bytes" + at_byte(member.data) + ") runs into the central directory";
    if (member.stored && uncompressed != member.size)
      return "corrupt zip archive: stored member " + quoted + " has two sizes";
    members.push_back(std::move(member));
    at += 46 + name_length + extra_length + comment_length;
  }

  // torch.load and torch.jit.load read <archive>/version and <archive>/data.pkl, the pickle the
  // checkpoint starts from (<archive>: the first member's directory).
  const ZipMember* data_pickle = nullptr;
  bool has_version = false;
  const std::string archive = members.empty()
                                  ? std::string()
                                  : members.front().name.substr(0, members.front().name.find('/'));
  for (const ZipMember& member : members) {
    if (member.name == archive + "/data.pkl") data_pickle = &member;
    if (member.name == archive + "/version") has_version = true;
  }
  if (!data_pickle || !has_version)
    return "a zip archive without the " + archive + "/data.pkl and " + archive +
           "/version a checkpoint holds";
  if (data_pickle->stored) {
    std::string problem;
    if (!walk_pickle(bytes.substr(data_pickle->data, data_pickle->size), 0, data_pickle->data,
                     problem))
      return "member '" + data_pickle->name + "': " + problem;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// safetensors (the model server's reader: model_server.py load_safetensors)

constexpr std::uint64_t kMaxSafetensorsHeader = 100u << 20;

std::string safetensors_problem(std::string_view bytes) {
  if (bytes.size() < 8)
    return "truncated safetensors file: " + std::to_string(bytes.size()) +
           " bytes, shorter than its 8-byte header length";
  const std::uint64_t header_length = little_endian(bytes, 0, 8);
  if (header_length > kMaxSafetensorsHeader || header_length > bytes.size() - 8)
    return "truncated safetensors file: its header length " + std::to_string(header_length) +
           " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)";
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length), nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return "corrupt safetensors file: its header (bytes 8 to " + std::to_string(8 + header_length) +
           ") is not a JSON object";
  static const std::map<std::string, std::uint64_t> kItemSize{
      {"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  const std::uint64_t data_size = bytes.size() - 8 - header_length;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string tensor = "tensor '" + name + "'";
    if (!entry.is_object()) return "corrupt safetensors file: " + tensor + " is not an object";
    const nlohmann::json dtype = entry.value("dtype", nlohmann::json());
    const auto item = kItemSize.find(dtype.is_string() ? dtype.get<std::string>() : "");
    if (item == kItemSize.end())
      return "safetensors " + tensor + " has dtype " + dtype.dump() +
             ", which the model server does not read";
    const nlohmann::json offsets = entry.value("data_offsets", nlohmann::json());
    const nlohmann::json shape = entry.value("shape", nlohmann::json());
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned() || !shape.is_array())
      return "corrupt safetensors file: " + tensor + " lacks its shape or data_offsets";
    const auto begin = offsets[0].get<std::uint64_t>(), stop = offsets[1].get<std::uint64_t>();
    if (begin > stop || stop > data_size)
      return "truncated safetensors file: " + tensor + " needs bytes [" + std::to_string(begin) +
             ", " + std::to_string(stop) + ") of " + std::to_string(data_size) + " bytes of data";
    std::uint64_t count = 1;
    for (const auto& n : shape) {
      if (!n.is_number_unsigned())
        return "corrupt safetensors file: " + tensor + " has a bad shape";
      const auto dimension = n.get<std::uint64_t>();
      if (dimension != 0 && count > data_size / dimension) {
        count = data_size + 1;  // more values than bytes: the span check below says so
        break;
      }
      count *= dimension;
    }
    if (count > data_size || count * item->second != stop - begin)
      return "corrupt safetensors file: " + tensor + "'s shape needs " +
             (count > data_size ? "more" : std::to_string(count * item->second)) +
             " bytes, its data_offsets span " + std::to_string(stop - begin);
  }
  return "";
}

}  // namespace

ModelContainer model_container(const std::string& format, Loader loader) {
  if (format == "torchscript") return ModelContainer::kTorchScript;
  if (format == "safetensors") return ModelContainer::kSafetensors;
  switch (loader) {
    case Loader::kSafetensors:
      return ModelContainer::kSafetensors;
    case Loader::kPickle:
      return ModelContainer::kPickle;
    case Loader::kJoblib:
      return ModelContainer::kJoblib;
    case Loader::kXgboost:
      return ModelContainer::kXgboost;
    case Loader::kOnnx:
      return ModelContainer::kOnnx;
    default:
      return ModelContainer::kTorch;
  }
}

std::string to_string(ModelContainer container) {
  switch (container) {
    case ModelContainer::kTorch:
      return "a PyTorch checkpoint";
    case ModelContainer::kTorchScript:
      return "a TorchScript archive";
    case ModelContainer::kPickle:
      return "a pickle";
    case ModelContainer::kSafetensors:
      return "a safetensors file";
    case ModelContainer::kJoblib:
      return "a joblib file";
    case ModelContainer::kXgboost:
      return "an XGBoost model (JSON or UBJSON)";
    case ModelContainer::kOnnx:
      return "an ONNX model";
  }
  return "a model file";
}

std::string model_file_problem(const std::filesystem::path& file, ModelContainer container) {
  const MappedFile mapped(file);
  if (!mapped.problem().empty()) return mapped.problem();
  return model_bytes_problem(mapped.bytes(), container);
}

namespace {

// joblib writes a pickle stream (protocol 2+, its arrays' bytes inline, so it cannot be parsed
// as opcodes past the first array) or that stream compressed.
std::string joblib_problem(std::string_view bytes) {
  constexpr std::string_view kCompressed[] = {"\x1f\x8b", "BZh",
                                              "\xfd"
                                              "7zXZ",
                                              "\x04\x22\x4d\x18", "ZF"};
  if (static_cast<unsigned char>(bytes[0]) == 0x80) {
    if (bytes.size() < 2 || static_cast<unsigned char>(bytes[1]) < 2 ||
        static_cast<unsigned char>(bytes[1]) > 5)
      return "a pickle PROTO opcode with no protocol 2-5 after it";
    return "";
  }
  if (static_cast<unsigned char>(bytes[0]) == 0x78) return "";  // zlib
  for (std::string_view magic : kCompressed)
    if (bytes.substr(0, magic.size()) == magic) return "";
  return "neither a pickle stream (protocol 2+) nor a compressed one (joblib writes either)";
}

// A protobuf message starts with a field key: a field number >= 1 and a wire type 0-5 (the
// ModelProto's first is ir_version, key 0x08, but field order is free).
std::string onnx_problem(std::string_view bytes) {
  const auto key = static_cast<unsigned char>(bytes[0]);
  if ((key & 7) > 5 || (key >> 3) == 0)
    return "not a protobuf message (the first byte is no field key)";
  return "";
}

}  // namespace

std::string model_bytes_problem(std::string_view bytes, ModelContainer container) {
  if (bytes.empty()) return "the file is empty";
  switch (container) {
    case ModelContainer::kSafetensors:
      return safetensors_problem(bytes);
    case ModelContainer::kPickle:
      return pickle_stream_problem(bytes, false);
    case ModelContainer::kTorchScript:
      return is_zip(bytes) ? zip_problem(bytes) : "not a zip archive (a TorchScript file is one)";
    case ModelContainer::kTorch:
      if (is_zip(bytes)) return zip_problem(bytes);
      // The oldest torch.save format is a tar archive; torch.load still reads it.
      if (bytes.size() >= 262 && bytes.substr(257, 5) == "ustar") return "";
      return pickle_stream_problem(bytes, true);
    case ModelContainer::kJoblib:
      return joblib_problem(bytes);
    case ModelContainer::kXgboost:
      // JSON may start with white space; UBJSON's object marker is the first byte.
      return bytes.substr(bytes.find_first_not_of(" \t\r\n") == std::string_view::npos
                              ? bytes.size()
                              : bytes.find_first_not_of(" \t\r\n"),
                          1) == "{"
                 ? ""
                 : "not a JSON or UBJSON object (XGBoost's model formats start with '{')";
    case ModelContainer::kOnnx:
      return onnx_problem(bytes);
  }
  return "";
}

}  // namespace armorbench
