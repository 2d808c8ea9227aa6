// See instances.hpp.
#include "procfs/instances.hpp"

#include <algorithm>

#include "util/sha256.hpp"

namespace kapsel::procfs {

bool is_instance_name(std::string_view name) {
    if (!name.starts_with(kInstancePrefix)) return false;
    std::string_view id = name.substr(kInstancePrefix.size());
    if (id.empty() || id.size() > kMaxInstanceId) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-' || c == '+';
    });
}

std::string instance_name(std::string_view container_id) {
    // Ids may be longer than a file name can be (store.hpp allows 1024 characters): the
    // long ones are named by their digest.
    if (container_id.size() > kMaxInstanceId) return std::string(kInstancePrefix) + sha256_hex(container_id);
    return std::string(kInstancePrefix) + std::string(container_id);
}

// Slots stay below 2^30, so that a slot above the tree's 2^33 numbers fits 64 bits with
// room; a start that leaves less than 2^20 to count up wraps to 1.
constexpr uint64_t kSlotLimit = uint64_t{1} << 30;

Instances::Instances(uint64_t first_slot) : next_(first_slot % kSlotLimit) {
    if (next_ == 0 || next_ > kSlotLimit - (uint64_t{1} << 20)) next_ = 1;
}

uint64_t Instances::slot_of(std::string_view name) {
    std::lock_guard lock(mutex_);
    std::string key(name);
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    if (slots_.size() >= kMax) slots_.clear();
    if (next_ >= kSlotLimit) next_ = 1;
    uint64_t slot = next_++;
    slots_.emplace(std::move(key), slot);
    return slot;
}

OpenPlan PageCache::open(uint64_t ino, uint64_t handle, uint64_t size) {
    std::lock_guard lock(mutex_);
    if (inodes_.size() >= kMax && !inodes_.contains(ino))
        std::erase_if(inodes_, [](auto& e) { return e.second.opens == 0; });
    State& s = inodes_[ino];
    ++s.opens;
    // Another open of this inode may still read the stored answer: this one reads its
    // own from the server, and nothing of the page cache or size changes.
    if (s.opens > 1) return {};
    OpenPlan plan{.cached = true, .invalidate_attrs = s.size != size || s.doubtful};
    s.stored_by = handle;
    s.size = size;
    s.doubtful = false;
    return plan;
}

void PageCache::release(uint64_t ino, uint64_t handle) {
    std::lock_guard lock(mutex_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end() || it->second.opens == 0) return;
    --it->second.opens;
    if (it->second.stored_by == handle) it->second.stored_by = 0;
}

std::optional<uint64_t> PageCache::size_of(uint64_t ino) {
    std::lock_guard lock(mutex_);
    auto it = inodes_.find(ino);
    return it == inodes_.end() ? std::nullopt : it->second.size;
}

void PageCache::doubt_size(uint64_t ino) {
    std::lock_guard lock(mutex_);
    if (auto it = inodes_.find(ino); it != inodes_.end()) it->second.doubtful = true;
}

}  // namespace kapsel::procfs
