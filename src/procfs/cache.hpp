// A small, bounded, short-lived cache for the procfs server's per-read work (a caller's
// cgroup limits, the host's CPU list): most of a read's cost on a busy host is system
// calls, and a container's processes ask the same question many times a second.
// Entries live at most `ttl`, so an answer is never staler than that (a limit changed by
// `kapsel update` shows within ttl); at most `max_entries` are kept, so no caller can
// make the server grow.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace kapsel::procfs {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

template <class V>
class TtlCache {
  public:
    TtlCache(
        std::chrono::steady_clock::duration ttl, size_t max_entries,
        SteadyClock clock = [] { return std::chrono::steady_clock::now(); })
        : ttl_(ttl), max_(max_entries), clock_(std::move(clock)) {}

    // The value put under `key` less than ttl ago, if any.
    std::optional<V> get(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
        if (clock_() - it->second.first >= ttl_) {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.second;
    }

    void put(const std::string& key, V value) {
        std::lock_guard lock(mu_);
        auto now = clock_();
        // Expired entries go at least once a ttl: keys of containers that are gone are
        // never asked for again, and would otherwise stay until the cache is full.
        if (now - swept_ >= ttl_) {
            std::erase_if(entries_, [&](auto& e) { return now - e.second.first >= ttl_; });
            swept_ = now;
        }
        if (entries_.size() >= max_ && !entries_.count(key)) {
            // Full: the expired entries go first; if every entry is fresh (more distinct
            // callers within ttl than the bound), all go: a bound, not a policy worth more.
            std::erase_if(entries_, [&](auto& e) { return now - e.second.first >= ttl_; });
            if (entries_.size() >= max_) entries_.clear();
        }
        entries_.insert_or_assign(key, std::pair{now, std::move(value)});
    }

    size_t size() {
        std::lock_guard lock(mu_);
        return entries_.size();
    }

  private:
    std::chrono::steady_clock::duration ttl_;
    size_t max_;
    SteadyClock clock_;
    std::mutex mu_;
    std::chrono::steady_clock::time_point swept_{};
    std::unordered_map<std::string, std::pair<std::chrono::steady_clock::time_point, V>> entries_;
};

}  // namespace kapsel::procfs
