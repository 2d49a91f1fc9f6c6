// Read-only memory mappings of byte ranges of files, shared by every thread of the process.
//
// The pipeline compresses tensors straight from the page cache instead of copying each byte into a buffer with
// read() first: the main thread maps a chunk's range (on a libuv thread: the pages are faulted in there, reading
// from disk if they must), hands its id to a worker, and the worker's codec call reads the mapping. The mapping
// never becomes a JavaScript ArrayBuffer (Electron's memory cage forbids external memory): JavaScript holds a
// number, and every native call that takes it keeps the region alive while it runs, so unmapping early can never
// leave a call reading freed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace sp::io {

// One mmap()ed span of a file; munmap()ed when the last region viewing it goes.
class Mapping {
 public:
  Mapping(void* base, size_t length) : base_(base), length_(length) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

 private:
  void* base_;
  size_t length_;
};

// A byte range of a mapping: what a region id names. Slices of a region share its mapping.
class MappedRegion {
 public:
  MappedRegion(std::shared_ptr<Mapping> mapping, const uint8_t* data, size_t size)
      : mapping_(std::move(mapping)), data_(data), size_(size) {}

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }

 private:
  std::shared_ptr<Mapping> mapping_;
  const uint8_t* data_;
  size_t size_;
};

enum class MapStatus { Ok, Unsupported, BadRange, PastEnd, Failed };

// True where mapRegion can work (POSIX systems).
bool mappingSupported();

// Maps [offset, offset + length) of the open file `fd` read-only and faults its pages in: call it from a thread
// that may block on the disk. length must be > 0; a range past the end of the file is refused (PastEnd) rather
// than mapped, since touching such pages would kill the process. On Failed, `err` holds errno.
MapStatus mapRegion(int fd, uint64_t offset, uint64_t length, std::shared_ptr<MappedRegion>& out, int& err);

// The registry that JavaScript's numbers name: add returns a fresh id (> 0); find returns the region or null, which
// keeps it mapped as long as the caller holds it; release forgets the id (the mapping goes when its last holder
// does) and says whether the id was known.
uint32_t addRegion(std::shared_ptr<MappedRegion> region);
// A new id for bytes [offset, offset + length) of region `id`, sharing its mapping (0 if `id` names no region or
// the range does not fit in it). Releasing either id leaves the other readable.
uint32_t sliceRegion(uint32_t id, uint64_t offset, uint64_t length);
std::shared_ptr<MappedRegion> findRegion(uint32_t id);
bool releaseRegion(uint32_t id);
// Asks the system to back the 2 MiB-aligned part of [data, data + length) with huge pages, now (Linux: madvise
// MADV_HUGEPAGE, then MADV_COLLAPSE). Returns the bytes that now are, as far as the calls succeeded; 0 elsewhere.
size_t adviseHugePages(uint8_t* data, size_t length);

// Regions currently registered (tests: every mapping is let go).
size_t regionCount();

}  // namespace sp::io
