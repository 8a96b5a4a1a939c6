#pragma once

#include <string>
#include <utility>
#include <variant>

namespace livechat::wire {

// An error a caller can recover from: a stable machine word and a sentence for a person.
struct Error {
  std::string code;
  std::string message;
};

// Holds either a value or an error (a small stand-in for C++23's std::expected).
template <typename T, typename E = Error>
class Result {
 public:
  Result(T value) : m_state(std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : m_state(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(m_state); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(m_state); }
  const T& value() const& { return std::get<T>(m_state); }
  T&& value() && { return std::get<T>(std::move(m_state)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return std::get<E>(m_state); }

 private:
  std::variant<T, E> m_state;
};

}  // namespace livechat::wire
