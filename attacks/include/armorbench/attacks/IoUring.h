// A minimal io_uring on the raw syscalls, for the memory dumper's io_uring read method. Opens,
// reads and closes submitted through a ring never pass through the openat/read/close syscall
// entries, so enforcers that trace those syscalls (tracepoints, seccomp) do not see them; only
// hooks inside the kernel's file and ptrace paths (BPF-LSM ptrace_access_check) do. Attackers
// use exactly this to slip past syscall-tracing tools, so the benchmark must try it too.
// One request in flight at a time: the dumper reads sequentially and simplicity wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "armorbench/base/UniqueFd.h"

struct io_uring_cqe;
struct io_uring_sqe;

namespace armorbench::attacks {

class IoUring {
 public:
  // A ring, or nullopt with `error` set to the errno of io_uring_setup (ENOSYS: kernel without
  // io_uring; EPERM: kernel.io_uring_disabled or an LSM said no) or of mapping its rings; `detail`
  // names the call that failed.
  static std::optional<IoUring> create(unsigned entries, int& error, std::string& detail);

  IoUring(IoUring&&) noexcept = default;
  IoUring& operator=(IoUring&&) noexcept = default;
  IoUring(const IoUring&) = delete;
  IoUring& operator=(const IoUring&) = delete;
  ~IoUring() = default;

  // Each call submits one request and waits for its completion. The result is the
  // completion's res: a file descriptor or byte count, or -errno. -errno can also come from
  // io_uring_enter itself when the request could not be submitted or waited for.
  long openat(const char* path, int flags);                                   // IORING_OP_OPENAT
  long read(int fd, void* buffer, std::size_t length, std::uint64_t offset);  // IORING_OP_READ
  long close(int fd);                                                         // IORING_OP_CLOSE

 private:
  // A shared mapping of one of the ring regions, unmapped on destruction.
  class Mapping {
   public:
    Mapping() = default;
    Mapping(void* address, std::size_t length) : address_(address), length_(length) {}
    Mapping(Mapping&& other) noexcept;
    Mapping& operator=(Mapping&& other) noexcept;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping();

    std::uint8_t* bytes() const { return static_cast<std::uint8_t*>(address_); }

   private:
    void* address_ = nullptr;
    std::size_t length_ = 0;
  };

  IoUring() = default;

  // Fills the next submission slot with `sqe`, submits it and waits for its completion.
  long submit_and_wait(const io_uring_sqe& sqe);

  UniqueFd fd_;
  Mapping sq_ring_;
  Mapping cq_ring_;  // empty when the kernel maps both rings at once (IORING_FEAT_SINGLE_MMAP)
  Mapping sqes_;

  // Inside the mappings above. The kernel writes sq_head and cq_tail, we write sq_tail and
  // cq_head; the other fields are constant after setup.
  std::uint32_t* sq_head_ = nullptr;
  std::uint32_t* sq_tail_ = nullptr;
  std::uint32_t sq_mask_ = 0;
  std::uint32_t* sq_array_ = nullptr;
  io_uring_sqe* sqe_slots_ = nullptr;
  std::uint32_t* cq_head_ = nullptr;
  std::uint32_t* cq_tail_ = nullptr;
  std::uint32_t cq_mask_ = 0;
  io_uring_cqe* cqe_slots_ = nullptr;
  std::uint64_t next_user_data_ = 1;
};

}  // namespace armorbench::attacks
