#include "mapped.hpp"

#include <cerrno>
#include <mutex>
#include <unordered_map>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#define SP_HAS_MMAP 1
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define SP_HAS_MMAP 0
#endif

namespace sp::io {

Mapping::~Mapping() {
#if SP_HAS_MMAP
  if (base_) munmap(base_, length_);
#endif
}

bool mappingSupported() { return SP_HAS_MMAP != 0; }

MapStatus mapRegion(int fd, uint64_t offset, uint64_t length, std::shared_ptr<MappedRegion>& out, int& err) {
  err = 0;
  out.reset();
#if SP_HAS_MMAP
  if (length == 0 || offset > UINT64_MAX - length || length > uint64_t(SIZE_MAX / 2)) return MapStatus::BadRange;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = errno;
    return MapStatus::Failed;
  }
  if (!S_ISREG(st.st_mode)) return MapStatus::Unsupported;
  if (offset + length > uint64_t(st.st_size)) return MapStatus::PastEnd;
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  const uint64_t start = offset - offset % page;
  const size_t mapLength = size_t(offset + length - start);
  int flags = MAP_SHARED;
#ifdef MAP_POPULATE
  // Fault every page in now, on this (libuv) thread: the worker that reads the region then never waits on the disk
  // or takes a page fault per 64 KB.
  flags |= MAP_POPULATE;
#endif
  void* base = mmap(nullptr, mapLength, PROT_READ, flags, fd, off_t(start));
  if (base == MAP_FAILED) {
    err = errno;
    return MapStatus::Failed;
  }
#ifndef MAP_POPULATE
  madvise(base, mapLength, MADV_WILLNEED);
#endif
  out = std::make_shared<MappedRegion>(std::make_shared<Mapping>(base, mapLength),
                                       static_cast<const uint8_t*>(base) + (offset - start), size_t(length));
  return MapStatus::Ok;
#else
  (void)fd;
  (void)offset;
  (void)length;
  return MapStatus::Unsupported;
#endif
}

size_t adviseHugePages(uint8_t* data, size_t length) {
#if defined(__linux__)
  constexpr uintptr_t kHuge = uintptr_t(1) << 21;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + length) & ~(kHuge - 1);
  if (end <= begin) return 0;
  void* p = reinterpret_cast<void*>(begin);
  if (madvise(p, end - begin, MADV_HUGEPAGE) != 0) return 0;
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
  // Collapse what is already faulted in; pages faulted later come huge by MADV_HUGEPAGE where the system can.
  if (madvise(p, end - begin, MADV_COLLAPSE) != 0) return 0;
  return end - begin;
#else
  (void)data;
  (void)length;
  return 0;
#endif
}

namespace {

struct Registry {
  std::mutex lock;
  std::unordered_map<uint32_t, std::shared_ptr<MappedRegion>> regions;
  uint32_t next = 1;
};

// Deliberately never destroyed: worker threads may still call in while the process exits.
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

uint32_t addRegion(std::shared_ptr<MappedRegion> region) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.lock);
  uint32_t id = r.next;
  // Ids wrap after 4 billion mappings; skip 0 and any still in use.
  while (id == 0 || r.regions.count(id)) id++;
  r.next = id + 1;
  r.regions.emplace(id, std::move(region));
  return id;
}

uint32_t sliceRegion(uint32_t id, uint64_t offset, uint64_t length) {
  std::shared_ptr<MappedRegion> whole = findRegion(id);
  if (!whole || offset > whole->size() || length > whole->size() - offset) return 0;
  return addRegion(std::make_shared<MappedRegion>(whole->mapping(), whole->data() + offset, size_t(length)));
}

std::shared_ptr<MappedRegion> findRegion(uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.lock);
  auto it = r.regions.find(id);
  return it == r.regions.end() ? nullptr : it->second;
}

bool releaseRegion(uint32_t id) {
  std::shared_ptr<MappedRegion> last;
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> g(r.lock);
    auto it = r.regions.find(id);
    if (it == r.regions.end()) return false;
    last = std::move(it->second);
    r.regions.erase(it);
  }
  // munmap (if this was the last holder) outside the lock.
  return true;
}

size_t regionCount() {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.lock);
  return r.regions.size();
}

}  // namespace sp::io
