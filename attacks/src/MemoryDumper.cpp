// Memory-dump attacker: region walk, the four process read methods, and core-file scanning.
#include "armorbench/attacks/MemoryDumper.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "armorbench/attacks/CanarySearch.h"
#include "armorbench/attacks/IoUring.h"
#include "armorbench/attacks/MemoryRegion.h"
#include "armorbench/attacks/PtraceSession.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kPageSize = 4096;

// Reads `len` bytes at `address`: bytes read (possibly fewer), or -errno.
using RangeReader = std::function<long(std::uint64_t address, std::uint8_t* out, std::size_t len)>;

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string hex_address(std::uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  return buf;
}

// Reads a whole /proc text file; -errno on failure.
int read_text_file(const std::string& path, std::string& out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return -errno;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return 0;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// A file opened through the ring and closed through it too, so that not even close(2) shows.
class RingFile {
 public:
  RingFile(IoUring& ring, int fd) : ring_(ring), fd_(fd) {}
  RingFile(const RingFile&) = delete;
  RingFile& operator=(const RingFile&) = delete;
  ~RingFile() {
    // Should the ring fail (io_uring_enter denied meanwhile), close(2) still frees the fd.
    if (fd_ >= 0 && ring_.close(fd_) < 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  IoUring& ring_;
  int fd_;
};

// read_text_file through the ring: IORING_OP_OPENAT, IORING_OP_READ at increasing offsets.
int read_text_file(IoUring& ring, const std::string& path, std::string& out) {
  const long fd = ring.openat(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return static_cast<int>(fd);
  RingFile file(ring, static_cast<int>(fd));
  char buf[65536];
  for (;;) {
    const long n = ring.read(file.get(), buf, sizeof buf, out.size());
    if (n == -EINTR) continue;
    if (n < 0) return static_cast<int>(n);
    if (n == 0) return 0;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Errors after which reading further pages of this target is pointless (or dishonest to keep
// trying): the enforcer said no, or the target is gone. EFAULT/EIO only mean "this page".
bool is_fatal_read_error(int err) {
  return err != EFAULT && err != EIO;
}

bool target_alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

long read_with_process_vm_readv(pid_t pid, std::uint64_t address, std::uint8_t* out,
                                std::size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), len};
  const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n < 0 ? -errno : n;
}

long read_with_pread(int fd, std::uint64_t address, std::uint8_t* out, std::size_t len) {
  ssize_t n;
  do {
    n = ::pread(fd, out, len, static_cast<off_t>(address));
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

long read_with_io_uring(IoUring& ring, int fd, std::uint64_t address, std::uint8_t* out,
                        std::size_t len) {
  long n;
  do {
    n = ring.read(fd, out, len, address);
  } while (n == -EINTR);
  return n;
}

class RegionWalk {
 public:
  // `on_empty_read` runs when a read returns 0 bytes and says whether to go on.
  RegionWalk(const ScanOptions& options, std::span<const std::uint8_t> canary, ScanResult& result,
             std::function<bool()> on_empty_read)
      : options_(options),
        search_(canary),
        buffer_(options.chunk_bytes),
        result_(result),
        on_empty_read_(std::move(on_empty_read)) {}

  // Scans [start, end) until found, a fatal error, or the byte budget is spent. Returns false
  // when the walk must stop.
  bool scan_range(std::uint64_t start, std::uint64_t end, const RangeReader& read,
                  const std::function<std::string(std::uint64_t)>& describe) {
    std::uint64_t address = start;
    while (address < end) {
      std::uint64_t want = std::min<std::uint64_t>(buffer_.size(), end - address);
      if (options_.max_bytes != 0) {
        if (result_.bytes_scanned >= options_.max_bytes) {
          result_.truncated = true;
          return false;
        }
        want = std::min(want, options_.max_bytes - result_.bytes_scanned);
      }
      long n = read(address, buffer_.data(), want);
      if (n < 0 && !is_fatal_read_error(static_cast<int>(-n)) && want > kPageSize) {
        // One bad page fails the whole request when it is the first page; retry one page to
        // learn whether this page is the bad one or whether the kernel refused the request for
        // a later page (process_vm_readv's man page allows that).
        want = kPageSize - address % kPageSize;
        n = read(address, buffer_.data(), want);
      }
      if (n > 0) {
        result_.bytes_scanned += static_cast<std::uint64_t>(n);
        const auto chunk =
            std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n));
        if (const auto match = search_.feed(chunk, address)) {
          result_.found = true;
          result_.address = *match;
          result_.region = describe(*match);
          return false;
        }
        address += static_cast<std::uint64_t>(n);
        continue;
      }
      const int err = n == 0 ? 0 : static_cast<int>(-n);
      if (err != 0 && is_fatal_read_error(err)) {
        result_.add_error("read", err, "reading " + hex_address(address) + ": " + errno_text(err));
        result_.failed = true;
        return false;
      }
      if (err == 0 && !on_empty_read_()) return false;
      // The page is unreadable (guard page, file mapping past EOF, PFN map): skip it. A match
      // cannot cross the hole, which CanarySearch notices from the address jump.
      const std::uint64_t next = std::min(end, (address / kPageSize + 1) * kPageSize);
      result_.bytes_unreadable += next - address;
      if (err != 0) {
        result_.add_error("read", err,
                          "first at " + hex_address(address) + ": " + errno_text(err) +
                              " (unreadable pages skipped; count = ranges)");
      }
      address = next;
    }
    return true;
  }

 private:
  const ScanOptions& options_;
  CanarySearch search_;
  std::vector<std::uint8_t> buffer_;
  ScanResult& result_;
  std::function<bool()> on_empty_read_;
};

double elapsed_ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// PT_LOAD segments of an ELF64 core file, to translate a file offset into the dumped process's
// virtual address. Empty for anything that is not a little-endian ELF64 core.
struct CoreSegment {
  std::uint64_t file_offset;
  std::uint64_t file_size;
  std::uint64_t vaddr;
  std::uint32_t flags;
};

std::vector<CoreSegment> read_core_segments(int fd) {
  std::vector<CoreSegment> segments;
  Elf64_Ehdr ehdr{};
  if (::pread(fd, &ehdr, sizeof ehdr, 0) != static_cast<ssize_t>(sizeof ehdr)) return segments;
  if (std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
      ehdr.e_type != ET_CORE || ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
    return segments;
  }
  std::vector<Elf64_Phdr> phdrs(ehdr.e_phnum);
  const auto bytes = static_cast<ssize_t>(phdrs.size() * sizeof(Elf64_Phdr));
  if (::pread(fd, phdrs.data(), static_cast<std::size_t>(bytes),
              static_cast<off_t>(ehdr.e_phoff)) != bytes) {
    return segments;
  }
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_LOAD && ph.p_filesz > 0) {
      segments.push_back({ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_flags});
    }
  }
  return segments;
}

}  // namespace

MemoryDumper::MemoryDumper(ScanOptions options) : options_(options) {
  options_.chunk_bytes = std::max<std::size_t>(options_.chunk_bytes, kPageSize);
}

ScanResult MemoryDumper::scan(pid_t pid, std::span<const std::uint8_t> canary,
                              ReadMethod method) const {
  const auto started = Clock::now();
  ScanResult result;
  result.method = method;
  result.pid = pid;
  auto finish = [&]() -> ScanResult {
    result.elapsed_ms = elapsed_ms_since(started);
    return result;
  };

  // Stop the target before reading its maps so that the layout we walk is the one we read.
  PtraceSession session(pid);
  if (method == ReadMethod::kPtrace) {
    std::string detail;
    if (const int err = session.attach_all(detail); err != 0) {
      result.add_error("ptrace", err, detail);
      result.failed = true;
      return finish();
    }
  }

  // The ring must outlive every file opened through it (declared first, destroyed last).
  std::optional<IoUring> ring;
  if (method == ReadMethod::kIoUring) {
    int err = 0;
    std::string detail;
    ring = IoUring::create(2, err, detail);
    if (!ring) {
      result.add_error("io_uring_setup", err, detail + ": " + errno_text(err));
      result.failed = true;
      return finish();
    }
  }

  const std::string proc = "/proc/" + std::to_string(pid);
  std::string maps_text;
  if (const int rc = ring ? read_text_file(*ring, proc + "/maps", maps_text)
                          : read_text_file(proc + "/maps", maps_text);
      rc < 0) {
    result.add_error("open_maps", -rc, proc + "/maps: " + errno_text(-rc));
    result.failed = true;
    return finish();
  }
  const auto regions = MemoryRegion::parse_all(maps_text);
  result.regions_total = regions.size();
  if (regions.empty()) {
    // An exited process (zombie) or a kernel thread has no maps: nothing can be read.
    result.add_error("open_maps", ESRCH, proc + "/maps is empty (process exited or kernel thread)");
    result.failed = true;
    return finish();
  }

  UniqueFd mem;
  std::optional<RingFile> ring_mem;
  RangeReader reader;
  if (method == ReadMethod::kProcessVmReadv) {
    reader = [pid](std::uint64_t address, std::uint8_t* out, std::size_t len) {
      return read_with_process_vm_readv(pid, address, out, len);
    };
  } else if (ring) {
    const long fd = ring->openat((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = static_cast<int>(-fd);
      result.add_error("open_mem", err, proc + "/mem: " + errno_text(err));
      result.failed = true;
      return finish();
    }
    ring_mem.emplace(*ring, static_cast<int>(fd));
    reader = [&ring = *ring, fd = ring_mem->get()](std::uint64_t address, std::uint8_t* out,
                                                   std::size_t len) {
      return read_with_io_uring(ring, fd, address, out, len);
    };
  } else {
    mem.reset(::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
    if (!mem) {
      const int err = errno;
      result.add_error("open_mem", err, proc + "/mem: " + errno_text(err));
      result.failed = true;
      return finish();
    }
    reader = [fd = mem.get()](std::uint64_t address, std::uint8_t* out, std::size_t len) {
      return read_with_pread(fd, address, out, len);
    };
  }

  // /proc/PID/mem returns 0 bytes once the target's mm is gone; any other 0 is a page to skip.
  RegionWalk walk(options_, canary, result, [&result, pid]() {
    if (target_alive(pid)) return true;
    result.add_error("read", ESRCH, "target exited during the scan");
    result.failed = true;
    return false;
  });
  auto describe = [&regions](std::uint64_t address) {
    for (const auto& region : regions) {
      if (address >= region.start && address < region.end) return region.line;
    }
    return std::string();
  };
  for (const auto& region : regions) {
    if (!region.is_scannable()) continue;
    ++result.regions_scanned;
    if (!walk.scan_range(region.start, region.end, reader, describe)) break;
  }
  session.detach_all();
  if (!result.found && !result.failed && result.bytes_scanned == 0 && result.regions_scanned > 0) {
    // Every page refused: that is a blocked dump, not a complete scan that found nothing.
    result.failed = true;
  }
  return finish();
}

ScanResult MemoryDumper::scan_file(const std::string& path,
                                   std::span<const std::uint8_t> canary) const {
  const auto started = Clock::now();
  ScanResult result;
  result.method = ReadMethod::kFile;
  result.file = path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    result.add_error("open_file", err, path + ": " + errno_text(err));
    result.failed = true;
    result.elapsed_ms = elapsed_ms_since(started);
    return result;
  }
  // Sequential chunked reads rather than mmap: a core file being written or truncated while we
  // read it must give a short read, not a SIGBUS.
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  const auto segments = read_core_segments(fd.get());
  result.regions_total = segments.empty() ? 1 : segments.size();
  result.regions_scanned = 1;
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) {
    const int err = errno;
    result.add_error("read", err, path + ": lseek: " + errno_text(err));
    result.failed = true;
    result.elapsed_ms = elapsed_ms_since(started);
    return result;
  }

  auto describe = [&segments, &path](std::uint64_t offset) {
    for (const auto& seg : segments) {
      if (offset >= seg.file_offset && offset < seg.file_offset + seg.file_size) {
        const std::uint64_t vaddr = seg.vaddr + (offset - seg.file_offset);
        return "core PT_LOAD vaddr " + hex_address(seg.vaddr) + " size " +
               hex_address(seg.file_size) + " flags " + ((seg.flags & PF_R) ? "r" : "-") +
               ((seg.flags & PF_W) ? "w" : "-") + ((seg.flags & PF_X) ? "x" : "-") +
               "; canary at vaddr " + hex_address(vaddr);
      }
    }
    return path + " at file offset " + hex_address(offset);
  };
  // A 0-byte read means the file shrank under us: stop where it now ends.
  RegionWalk walk(options_, canary, result, [] { return false; });
  walk.scan_range(
      0, static_cast<std::uint64_t>(size),
      [fd = fd.get()](std::uint64_t offset, std::uint8_t* out, std::size_t len) {
        return read_with_pread(fd, offset, out, len);
      },
      describe);
  result.elapsed_ms = elapsed_ms_since(started);
  return result;
}

}  // namespace armorbench::attacks
