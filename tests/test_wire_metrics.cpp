#include <catch2/catch.hpp>

#include "wire/metrics.hpp"

using namespace livechat::wire::metrics;

TEST_CASE("wire::metrics") {
  SECTION("families are declared once, samples carry their labels") {
    Text text;
    text.counter("a_total", "Things", 3);
    text.counter("a_total", "Things", 4, label("kind", "x"));
    text.gauge("b", "Level", 0.25);
    CHECK(text.str() ==
          "# HELP a_total Things\n# TYPE a_total counter\na_total 3\na_total{kind=\"x\"} 4\n"
          "# HELP b Level\n# TYPE b gauge\nb 0.25\n");
  }
  SECTION("label values are escaped") {
    CHECK(label("path", "a\"b\\c\nd") == "path=\"a\\\"b\\\\c\\nd\"");
  }
  SECTION("a histogram's buckets are cumulative, ending in +Inf, with sum and count") {
    Histogram histogram;
    histogram.observe(0.0001);
    histogram.observe(0.003);
    histogram.observe(0.003);
    histogram.observe(60);
    Text text;
    histogram.render(text, "h", label("path", "/x"));
    const auto& out = text.str();
    CHECK(out.find("h_bucket{path=\"/x\",le=\"0.0005\"} 1\n") != std::string::npos);
    CHECK(out.find("h_bucket{path=\"/x\",le=\"0.0025\"} 1\n") != std::string::npos);
    CHECK(out.find("h_bucket{path=\"/x\",le=\"0.005\"} 3\n") != std::string::npos);
    CHECK(out.find("h_bucket{path=\"/x\",le=\"5\"} 3\n") != std::string::npos);
    CHECK(out.find("h_bucket{path=\"/x\",le=\"+Inf\"} 4\n") != std::string::npos);
    CHECK(out.find("h_sum{path=\"/x\"} 60.0061\n") != std::string::npos);
    CHECK(out.find("h_count{path=\"/x\"} 4\n") != std::string::npos);
    CHECK(histogram.count() == 4);
  }
}
