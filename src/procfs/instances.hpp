// Two things the FUSE glue (server.cpp) decides before it touches the kernel, kept apart
// so that they can be tested without it:
//
// - Each container's own copy of the tree. A container's binds come from the directory
//   "ct-<container id>" at the mount's root (client.cpp), whose inodes are the fixed
//   tree's numbers with the container's slot above them. Two containers then never share
//   an inode, so never a page cache: what one container's open leaves there (below) is
//   never another container's to read (by mmap or sendfile, which read the page cache).
//
// - When an answer goes through the page cache. A read through FUSE costs a round trip
//   to the server per call, and a reader needs two (the text, then end of file) after
//   the open's. So the server stores the answer in the inode's page cache at open (the
//   kernel then serves every read of that open without asking) — but only while no
//   other file of that inode is open, since all opens of an inode share one page cache
//   and each answer is its opener's. Opens meanwhile read their own copy from the
//   server (direct I/O). The inode's size must be the answer's: the kernel grows it
//   itself as the answer is stored; a smaller size needs the attributes invalidated, so
//   that the reader asks (getattr) and is told the stored answer's length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kapsel::procfs {

// Inode numbers of the fixed tree and the passed-through entries (files.hpp, sysfs.hpp)
// are below 2^33; a container's copy has its slot above them. Slot 0 is the tree at the
// mount's root (what the bench and older binds use).
constexpr unsigned kSlotShift = 33;
struct SplitIno {
    uint64_t slot;
    uint64_t base;
};
constexpr SplitIno split_ino(uint64_t ino) {
    return {ino >> kSlotShift, ino & ((uint64_t{1} << kSlotShift) - 1)};
}
constexpr uint64_t join_ino(uint64_t slot, uint64_t base) {
    return slot << kSlotShift | base;
}

// "ct-" and a container id (letters, digits, '_', '.', '-', '+'; at most 128 of them,
// a longer id's sha256 instead).
constexpr std::string_view kInstancePrefix = "ct-";
constexpr size_t kMaxInstanceId = 128;
bool is_instance_name(std::string_view name);
// The directory whose files a container binds.
std::string instance_name(std::string_view container_id);

// Names to slots. A name keeps its slot for the server's life (a container's binds pin
// its inodes); two names never share one. Slots count up from a random start, so a
// server started after a crash does not hand out its predecessor's (still pinned) ones.
class Instances {
  public:
    // Names kept at once; more forget all. The kernel keeps a looked-up name (and its
    // inodes, pinned by the container's binds) without asking again, and a name asked
    // for again gets a new slot, never an old one: a second copy of that tree, never a
    // shared one. So the bound costs nothing but keeps the server's memory flat however
    // many containers come and go.
    static constexpr size_t kMax = 256;
    explicit Instances(uint64_t first_slot);
    uint64_t slot_of(std::string_view name);

  private:
    std::mutex mutex_;
    std::unordered_map<std::string, uint64_t> slots_;
    uint64_t next_;
};

// What an open does with its answer.
struct OpenPlan {
    bool cached = false;            // store it in the page cache; else direct I/O
    bool invalidate_attrs = false;  // first, so the inode's size is asked for again
};

// The page-cache state of each file inode: its opens, the one whose answer is stored,
// and the size the kernel was given.
class PageCache {
  public:
    // Inodes with no open file are forgotten past this many (their size then counts as
    // unknown: the next open invalidates, which costs a getattr, never a wrong size);
    // about 64 bytes each, so the server stays small with any number of containers.
    static constexpr size_t kMax = 1024;
    // An open of `ino` with handle `handle` and an answer of `size` bytes.
    OpenPlan open(uint64_t ino, uint64_t handle, uint64_t size);
    // Its release (also when the open's reply did not reach the kernel).
    void release(uint64_t ino, uint64_t handle);
    // The size to answer getattr and lookup with: the stored answer's, if known.
    std::optional<uint64_t> size_of(uint64_t ino);
    // The kernel's size may no longer be the stored answer's: a read that the server
    // answered short (the kernel shrinks the size to where a page it asked for ended,
    // and a direct reader's answer may be shorter), or a store that failed. The next
    // cached open then invalidates; until then getattr still answers the stored size
    // (the one an open reading the page cache needs).
    void doubt_size(uint64_t ino);

  private:
    struct State {
        uint64_t opens = 0;
        uint64_t stored_by = 0;  // the handle whose answer is in the page cache, 0: none open
        std::optional<uint64_t> size;
        bool doubtful = false;  // the kernel's may differ (doubt_size)
    };
    std::mutex mutex_;
    std::unordered_map<uint64_t, State> inodes_;
};

}  // namespace kapsel::procfs
