// Errors as values: every fallible operation returns Result<T>, whose error names
// the operation and the object it failed on ("mount proc at /proc: permission denied").
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kapsel {

struct Error {
    int code = 0;         // errno when a syscall failed, 0 otherwise
    std::string message;  // one lower-case line, no trailing full stop

    // Adds outer context: Error{"permission denied"}.context("create c1") reads
    // "create c1: permission denied".
    Error context(std::string_view what) && {
        message = std::string(what) + ": " + message;
        return std::move(*this);
    }
};

// "<op>: <strerror(err)>" with strerror in lower case, as runc and crun print it.
Error sys_error(std::string_view op, int err = errno);
// A plain error with no errno.
Error make_error(std::string message);
std::string errno_text(int err);

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    explicit operator bool() const { return v_.index() == 0; }
    bool ok() const { return v_.index() == 0; }
    T& operator*() & { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return std::get<0>(v_); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }
    T take() && { return std::get<0>(std::move(v_)); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), failed_(true) {}

    explicit operator bool() const { return !failed_; }
    bool ok() const { return !failed_; }
    const Error& error() const& { return err_; }
    Error&& error() && { return std::move(err_); }
    void take() && {}

  private:
    Error err_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace kapsel

// KAPSEL_TRY(expr): evaluates a Result; returns its error from the enclosing
// function, or yields its value. Uses a GNU statement expression.
#define KAPSEL_TRY(expr)                                             \
    ({                                                               \
        auto kapsel_try_r_ = (expr);                                 \
        if (!kapsel_try_r_) return std::move(kapsel_try_r_).error(); \
        std::move(kapsel_try_r_).take();                             \
    })

// KAPSEL_TRY_CTX(expr, what): like KAPSEL_TRY, prefixing the error with `what`.
#define KAPSEL_TRY_CTX(expr, what)                                                 \
    ({                                                                             \
        auto kapsel_try_r_ = (expr);                                               \
        if (!kapsel_try_r_) return std::move(kapsel_try_r_).error().context(what); \
        std::move(kapsel_try_r_).take();                                           \
    })
