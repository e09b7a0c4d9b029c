// Reading and checking input text files (InputText.h).
#include "armorbench/base/InputText.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "armorbench/base/Hex.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench {

std::string read_input_text(const std::filesystem::path& file, std::uintmax_t max_bytes,
                            std::string_view what) {
  const SourceLocation where{file.string(), 0, 0};
  const std::string name(what);
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below, not read.
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd && errno == ELOOP) throw input_error(name + " is a symbolic link loop", where);
  if (!fd) throw input_error(name + " cannot be opened: " + std::strerror(errno), where);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0)
    throw input_error(name + " cannot be read: " + std::strerror(errno), where);
  if (S_ISDIR(info.st_mode)) throw input_error(name + " is a directory", where);
  if (!S_ISREG(info.st_mode)) throw input_error(name + " is not a regular file", where);
  const auto size = static_cast<std::uintmax_t>(info.st_size);
  if (size > max_bytes)
    throw input_error(name + " is " + describe_size(size) + "; ArmorBench reads at most " +
                          describe_size(max_bytes),
                      where);
  std::string content(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < content.size()) {
    const ssize_t n = ::read(fd.get(), content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw input_error(name + " cannot be read: " + std::strerror(errno), where);
    if (n == 0) break;  // shrank while being read: parse what is there
    got += static_cast<std::size_t>(n);
  }
  content.resize(got);
  if (const auto bad = invalid_utf8_offset(content)) {
    const auto byte = static_cast<std::uint8_t>(content[*bad]);
    throw input_error(name + " is not UTF-8: byte 0x" + to_hex({&byte, 1}) + " (offset " +
                          std::to_string(*bad) + ") does not belong to a UTF-8 character",
                      location_of_offset(file.string(), content, *bad));
  }
  return content;
}

std::optional<std::size_t> invalid_utf8_offset(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte (RFC 3629)
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;   // no overlong forms
      if (lead == 0xed) high = 0x9f;  // no surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;   // no overlong forms
      if (lead == 0xf4) high = 0x8f;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (text.size() - i < length || byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return i;
    i += length;
  }
  return std::nullopt;
}

SourceLocation location_of_offset(const std::string& file, std::string_view text,
                                  std::size_t offset) {
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xc0) != 0x80) {  // continuation bytes belong to the character before
      ++column;
    }
  }
  return SourceLocation{file, line, column};
}

std::string describe_size(std::uintmax_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  int unit = 0;
  std::uintmax_t whole = bytes >> 10;
  while (unit < 5 && (whole >> 10) > 0) {
    whole >>= 10;
    ++unit;
  }
  const std::uintmax_t scale = std::uintmax_t{1} << (10 * (unit + 1));
  if (bytes % scale == 0) return std::to_string(bytes / scale) + " " + kUnits[unit];
  if (unit == 0) return std::to_string(bytes) + " bytes";  // "64.0 KiB" would hide the excess
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s",
                static_cast<double>(bytes) / static_cast<double>(scale), kUnits[unit]);
  return text;
}

}  // namespace armorbench
