#include "client/bench/latency_recorder.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

using livechat::client::bench::LatencyRecorder;

namespace {

// Tells whether a reported value is within the histogram's resolution of the true one.
bool near(std::uint64_t reported, std::uint64_t truth) {
  double error = static_cast<double>(reported) - static_cast<double>(truth);
  return std::abs(error) <= static_cast<double>(truth) / 256.0 + 0.5;
}

}  // namespace

TEST_CASE("bench::LatencyRecorder") {
  LatencyRecorder h;

  SECTION("an empty histogram reports zeros") {
    CHECK(h.count() == 0);
    CHECK(h.percentile(50) == 0);
    CHECK(h.percentile(100) == 0);
    CHECK(h.min() == 0);
    CHECK(h.max() == 0);
    CHECK(h.mean() == 0.0);
  }

  SECTION("values below 256 are exact") {
    for (std::uint64_t v = 0; v < 256; ++v) {
      h.record(v);
    }
    CHECK(h.count() == 256);
    CHECK(h.percentile(50) == 127);
    CHECK(h.percentile(99) == 253);
    CHECK(h.min() == 0);
    CHECK(h.max() == 255);
  }

  SECTION("percentiles of 1..100000 are within the resolution") {
    for (std::uint64_t v = 1; v <= 100'000; ++v) {
      h.record(v);
    }
    CHECK(h.count() == 100'000);
    CHECK(near(h.percentile(50), 50'000));
    CHECK(near(h.percentile(90), 90'000));
    CHECK(near(h.percentile(99), 99'000));
    CHECK(near(h.percentile(99.9), 99'900));
    CHECK(h.percentile(100) == 100'000);
    CHECK(h.max() == 100'000);
    CHECK(h.min() == 1);
    CHECK(h.percentile(0) == 1);
    CHECK(h.mean() == Approx(50'000.5));
  }

  SECTION("one value is every percentile") {
    h.record(12'345);
    CHECK(h.percentile(0) == 12'345);
    CHECK(h.percentile(50) == 12'345);
    CHECK(h.percentile(99.99) == 12'345);
  }

  SECTION("a skewed distribution puts the tail where it is") {
    for (int i = 0; i < 990; ++i) {
      h.record(1'000);
    }
    for (int i = 0; i < 10; ++i) {
      h.record(2'000'000);
    }
    CHECK(near(h.percentile(50), 1'000));
    CHECK(near(h.percentile(99), 1'000));
    CHECK(near(h.percentile(99.5), 2'000'000));
    CHECK(h.max() == 2'000'000);
  }

  SECTION("large values up to an hour and beyond keep their resolution") {
    const std::uint64_t hour = 3'600'000'000;
    h.record(hour);
    h.record(hour / 2);
    CHECK(near(h.percentile(50), hour / 2));
    CHECK(near(h.percentile(99), hour));
    CHECK(h.max() == hour);
    h.record(LatencyRecorder::k_highest * 4);
    CHECK(h.max() == LatencyRecorder::k_highest * 4);
    CHECK(h.percentile(100) == LatencyRecorder::k_highest * 4);
  }

  SECTION("merging adds counts, bounds and sums") {
    LatencyRecorder other;
    for (std::uint64_t v = 1; v <= 50'000; ++v) {
      h.record(v);
    }
    for (std::uint64_t v = 50'001; v <= 100'000; ++v) {
      other.record(v);
    }
    h.merge(other);
    CHECK(h.count() == 100'000);
    CHECK(near(h.percentile(50), 50'000));
    CHECK(near(h.percentile(75), 75'000));
    CHECK(h.min() == 1);
    CHECK(h.max() == 100'000);
    CHECK(h.mean() == Approx(50'000.5));
  }

  SECTION("merging into or from an empty histogram keeps the figures") {
    LatencyRecorder empty;
    h.record(7);
    h.record(9);
    h.merge(empty);
    CHECK(h.count() == 2);
    CHECK(h.min() == 7);
    empty.merge(h);
    CHECK(empty.count() == 2);
    CHECK(empty.min() == 7);
    CHECK(empty.max() == 9);
  }
}
