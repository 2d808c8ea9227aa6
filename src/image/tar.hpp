// A tar reader and writer for image layers: ustar, pax extended headers (long
// names, xattrs, large numbers) and GNU long names. Reading only parses; what an
// entry may do to the file system is decided by unpack.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "image/stream.hpp"

namespace kapsel::image {

enum class EntryType : char {
    file = '0',
    hardlink = '1',
    symlink = '2',
    chardev = '3',
    blockdev = '4',
    directory = '5',
    fifo = '6',
};

struct TarEntry {
    std::string path;  // as written in the archive (normalised by the caller)
    std::string link;  // hard or symbolic link target
    EntryType type = EntryType::file;
    uint64_t size = 0;
    uint32_t mode = 0644;  // permission and setuid/setgid/sticky bits
    uint32_t uid = 0, gid = 0;
    int64_t mtime = 0;
    uint32_t devmajor = 0, devminor = 0;
    std::map<std::string, std::string> xattrs;  // pax SCHILY.xattr.*
};

class TarReader {
public:
    explicit TarReader(Reader& in) : in_(in) {}
    // The next entry, or false at the end of the archive. The entry's data must
    // be read from body() (or is skipped) before the next call.
    Result<bool> next(TarEntry& e);
    Reader& body() { return *body_; }

private:
    Result<bool> read_header(char* block);
    Reader& in_;
    std::unique_ptr<LimitedReader> body_;
    uint64_t pad_ = 0;  // padding after the current body
    std::map<std::string, std::string> global_;
};

// How names longer than a ustar header holds (99 bytes) are written: pax extended
// headers (with xattrs and large sizes), or GNU long-name records ('L', 'K'), the
// only extension some readers know (Genode's tar VFS). The GNU form drops xattrs.
enum class TarFormat { pax, gnu };

class TarWriter {
public:
  explicit TarWriter(int fd, TarFormat format = TarFormat::pax) : fd_(fd), format_(format) {}
  // Writes a header (with a pax header first when the entry needs one).
  Status header(const TarEntry& e);
  Status data(const char* buf, size_t n);
  // Pads the current entry's data to the block size.
  Status end_entry();
  // The two zero blocks that end an archive.
  Status finish();
  uint64_t written() const { return written_; }

private:
    Status write(const char* buf, size_t n);
    int fd_;
    TarFormat format_;
    uint64_t written_ = 0;
    uint64_t entry_left_ = 0, entry_size_ = 0;
};

}  // namespace kapsel::image
