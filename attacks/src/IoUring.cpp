// The raw-syscall io_uring behind the dumper's io_uring method (no liburing: one request at a
// time needs only setup, the three ring mappings and io_uring_enter).
#include "armorbench/attacks/IoUring.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

namespace armorbench::attacks {
namespace {

// The kernel caps one read at MAX_RW_COUNT anyway; the SQE's len field is 32 bits.
constexpr std::size_t kMaxReadLength = std::size_t{1} << 30;

// The ring indices are shared with the kernel: a release store publishes what we wrote before
// it (the SQE, or that we are done with a CQE), an acquire load makes what the kernel wrote
// before its store visible (the CQE, or that it consumed an SQE).
std::uint32_t load_acquire(std::uint32_t* index) {
  return std::atomic_ref<std::uint32_t>(*index).load(std::memory_order_acquire);
}

void store_release(std::uint32_t* index, std::uint32_t value) {
  std::atomic_ref<std::uint32_t>(*index).store(value, std::memory_order_release);
}

template <typename T>
T* at_offset(std::uint8_t* base, std::uint32_t offset) {
  return reinterpret_cast<T*>(base + offset);
}

}  // namespace

IoUring::Mapping::Mapping(Mapping&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), length_(std::exchange(other.length_, 0)) {}

IoUring::Mapping& IoUring::Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (address_ != nullptr) ::munmap(address_, length_);
    address_ = std::exchange(other.address_, nullptr);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

IoUring::Mapping::~Mapping() {
  if (address_ != nullptr) ::munmap(address_, length_);
}

std::optional<IoUring> IoUring::create(unsigned entries, int& error, std::string& detail) {
  io_uring_params params{};
  const long fd = ::syscall(SYS_io_uring_setup, std::max(entries, 1u), &params);
  if (fd < 0) {
    error = errno;
    detail = "io_uring_setup";
    return std::nullopt;
  }
  IoUring ring;
  ring.fd_.reset(static_cast<int>(fd));

  auto map = [&](std::size_t length, off_t region, Mapping& out) {
    void* address = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                           ring.fd_.get(), region);
    if (address == MAP_FAILED) {
      error = errno;
      detail = "mmap of the io_uring rings";
      return false;
    }
    out = Mapping(address, length);
    return true;
  };
  const std::size_t sq_length = params.sq_off.array + params.sq_entries * sizeof(std::uint32_t);
  const std::size_t cq_length = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  const bool single_mmap = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (!map(single_mmap ? std::max(sq_length, cq_length) : sq_length, IORING_OFF_SQ_RING,
           ring.sq_ring_)) {
    return std::nullopt;
  }
  if (!single_mmap && !map(cq_length, IORING_OFF_CQ_RING, ring.cq_ring_)) return std::nullopt;
  if (!map(params.sq_entries * sizeof(io_uring_sqe), IORING_OFF_SQES, ring.sqes_)) {
    return std::nullopt;
  }

  std::uint8_t* sq = ring.sq_ring_.bytes();
  std::uint8_t* cq = single_mmap ? sq : ring.cq_ring_.bytes();
  ring.sq_head_ = at_offset<std::uint32_t>(sq, params.sq_off.head);
  ring.sq_tail_ = at_offset<std::uint32_t>(sq, params.sq_off.tail);
  ring.sq_mask_ = *at_offset<std::uint32_t>(sq, params.sq_off.ring_mask);
  ring.sq_array_ = at_offset<std::uint32_t>(sq, params.sq_off.array);
  ring.sqe_slots_ = reinterpret_cast<io_uring_sqe*>(ring.sqes_.bytes());
  ring.cq_head_ = at_offset<std::uint32_t>(cq, params.cq_off.head);
  ring.cq_tail_ = at_offset<std::uint32_t>(cq, params.cq_off.tail);
  ring.cq_mask_ = *at_offset<std::uint32_t>(cq, params.cq_off.ring_mask);
  ring.cqe_slots_ = at_offset<io_uring_cqe>(cq, params.cq_off.cqes);
  return ring;
}

long IoUring::submit_and_wait(const io_uring_sqe& request) {
  // Only this thread writes sq_tail and cq_head, so plain reads of them are current. With one
  // request in flight the slot at the tail is always free.
  const std::uint32_t tail = *sq_tail_;
  const std::uint32_t index = tail & sq_mask_;
  const std::uint64_t user_data = next_user_data_++;
  sqe_slots_[index] = request;
  sqe_slots_[index].user_data = user_data;
  sq_array_[index] = index;
  store_release(sq_tail_, tail + 1);

  unsigned to_submit = 1;
  for (;;) {
    const std::uint32_t head = *cq_head_;
    if (head != load_acquire(cq_tail_)) {
      const io_uring_cqe& cqe = cqe_slots_[head & cq_mask_];
      const long res = cqe.res;
      const bool ours = cqe.user_data == user_data;
      store_release(cq_head_, head + 1);
      // Anything else is the late completion of a request whose wait failed: drop it.
      if (ours) return res;
      continue;
    }
    const long submitted =
        ::syscall(SYS_io_uring_enter, fd_.get(), to_submit, 1u, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (submitted < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      // Nothing was submitted by a failing call: take the SQE back so that the next request
      // does not submit it too. (Without SQPOLL the kernel only consumes SQEs inside enter.)
      if (to_submit > 0 && load_acquire(sq_head_) == tail) store_release(sq_tail_, tail);
      return -err;
    }
    to_submit -= std::min<unsigned>(to_submit, static_cast<unsigned>(submitted));
  }
}

long IoUring::openat(const char* path, int flags) {
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_OPENAT;
  sqe.fd = AT_FDCWD;
  sqe.addr = reinterpret_cast<std::uintptr_t>(path);
  sqe.open_flags = static_cast<std::uint32_t>(flags);
  return submit_and_wait(sqe);
}

long IoUring::read(int fd, void* buffer, std::size_t length, std::uint64_t offset) {
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_READ;
  sqe.fd = fd;
  sqe.addr = reinterpret_cast<std::uintptr_t>(buffer);
  sqe.len = static_cast<std::uint32_t>(std::min(length, kMaxReadLength));
  sqe.off = offset;
  return submit_and_wait(sqe);
}

long IoUring::close(int fd) {
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_CLOSE;
  sqe.fd = fd;
  return submit_and_wait(sqe);
}

}  // namespace armorbench::attacks
