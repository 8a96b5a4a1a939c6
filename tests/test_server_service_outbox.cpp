#include "server/service/outbox.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "server/store/sqlite_store.hpp"
#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"

using namespace livechat;
using livechat::test::ids_of;
using livechat::test::numbered_draft;
using livechat::test::TempDir;
using namespace std::chrono_literals;

namespace {

// Records what it is given to forward; confirms it at once, or only when finishing.
class RecordingNotifier final : public server::service::Notifier {
 public:
  explicit RecordingNotifier(bool confirm_at_once) : m_confirm_at_once(confirm_at_once) {}

  void forward(const std::vector<wire::Message>& messages) override {
    std::lock_guard lock(m_mutex);
    for (const auto& m : messages) {
      m_forwarded.push_back(m.id);
    }
    if (m_confirm_at_once) {
      m_confirmed = m_forwarded.back();
    }
  }
  std::string confirmed() const override {
    std::lock_guard lock(m_mutex);
    return m_confirmed;
  }
  void finish() override {
    std::lock_guard lock(m_mutex);
    if (!m_forwarded.empty()) {
      m_confirmed = m_forwarded.back();
    }
  }
  server::service::NotifierHealth health() const override { return {}; }

  // Returns the ids forwarded so far, in order.
  std::vector<std::string> forwarded() const {
    std::lock_guard lock(m_mutex);
    return m_forwarded;
  }

 private:
  bool m_confirm_at_once;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_forwarded;
  std::string m_confirmed;
};

}  // namespace

TEST_CASE("server::service::Outbox") {
  TempDir dir;

  SECTION("concurrent posts share commits; each is forwarded in store order before its answer") {
    server::store::SqliteStore store(dir.file("a.db"));
    RecordingNotifier notifier(true);
    std::mutex mutex;
    std::set<std::string> answered;
    std::size_t forwarded_first = 0;
    {
      server::service::Outbox outbox(store, &notifier);
      std::vector<std::thread> posters;
      for (int t = 0; t < 8; ++t) {
        posters.emplace_back([&, t] {
          for (int i = 0; i < 100; ++i) {
            auto stored = outbox.submit(numbered_draft(t * 100 + i));
            REQUIRE(stored);
            auto forwarded = notifier.forwarded();
            std::lock_guard lock(mutex);
            forwarded_first += std::count(forwarded.begin(), forwarded.end(), stored->id) == 1;
            answered.insert(stored->id);
          }
        });
      }
      for (auto& p : posters) {
        p.join();
      }
    }
    CHECK(forwarded_first == 800);  // each was forwarded, once, before it was answered
    CHECK(answered.size() == 800);
    CHECK(store.size() == 800);
    auto all = *store.query({std::string(""), std::nullopt, std::nullopt, 1000});
    auto forwarded = notifier.forwarded();
    CHECK(forwarded == ids_of(all));
    CHECK(std::set<std::string>(forwarded.begin(), forwarded.end()) == answered);
    CHECK(store.unforwarded().empty());
  }

  SECTION("a post submitted without waiting hears, on the outbox's thread, once forwarded") {
    server::store::SqliteStore store(dir.file("b.db"));
    RecordingNotifier notifier(true);
    std::mutex mutex;
    std::condition_variable all_heard;
    std::vector<std::string> heard;  // in the order they were heard
    std::size_t forwarded_first = 0;
    std::size_t on_caller = 0;
    constexpr std::size_t k_posts = 500;
    const auto caller = std::this_thread::get_id();
    {
      server::service::Outbox outbox(store, &notifier);
      for (std::size_t i = 0; i < k_posts; ++i) {
        // submit() returns at once; nothing waits for the commit.
        outbox.submit(
            numbered_draft(static_cast<int>(i)), [&](server::service::CommitQueue::Outcome stored) {
              auto forwarded = notifier.forwarded();
              std::lock_guard lock(mutex);
              if (!stored) {
                heard.push_back("(not stored)");
                all_heard.notify_all();
                return;
              }
              forwarded_first += std::count(forwarded.begin(), forwarded.end(), stored->id) == 1;
              on_caller += std::this_thread::get_id() == caller;
              heard.push_back(stored->id);
              all_heard.notify_all();
            });
      }
      std::unique_lock lock(mutex);
      REQUIRE(all_heard.wait_for(lock, 10s, [&] { return heard.size() == k_posts; }));
    }
    CHECK(forwarded_first == k_posts);
    CHECK(on_caller == 0);
    CHECK(heard == notifier.forwarded());  // heard in store order, each once
    CHECK(store.size() == k_posts);
  }

  SECTION("a draft queued without a waiter once the queue finished hears of its failure at once") {
    server::service::CommitQueue queue(16, 10ms);
    queue.close();
    CHECK_FALSE(queue.next());  // the loop ends: nothing more is written
    bool failed = false;
    queue.enqueue(numbered_draft(1),
                  [&](server::service::CommitQueue::Outcome stored) { failed = !stored; });
    CHECK(failed);
  }

  SECTION("what was stored but never confirmed is forwarded first at start") {
    std::vector<std::string> stored;
    {
      server::store::SqliteStore store(dir.file("b.db"));
      {
        // A notifier that confirms nothing: stored, forwarded, but not confirmed.
        class Deaf final : public server::service::Notifier {
         public:
          void forward(const std::vector<wire::Message>&) override {}
          std::string confirmed() const override { return {}; }
          void finish() override {}
          server::service::NotifierHealth health() const override { return {}; }
        } deaf;
        server::service::Outbox outbox(store, &deaf);
        for (int i = 0; i < 3; ++i) {
          stored.push_back(outbox.submit(numbered_draft(i))->id);
        }
      }
      CHECK(ids_of(store.unforwarded()) == stored);
    }
    server::store::SqliteStore store(dir.file("b.db"));
    RecordingNotifier notifier(true);
    {
      server::service::Outbox outbox(store, &notifier);
      REQUIRE(livechat::test::eventually([&] { return notifier.forwarded().size() == 3; }));
      stored.push_back(outbox.submit(numbered_draft(3))->id);
    }
    CHECK(notifier.forwarded() == stored);
    CHECK(store.unforwarded().empty());
    server::store::SqliteStore reopened(dir.file("b.db"));
    CHECK(reopened.unforwarded().empty());
  }

  SECTION("what the notifier confirms while it finishes is recorded for the next start") {
    {
      server::store::SqliteStore store(dir.file("c.db"));
      RecordingNotifier notifier(false);
      server::service::Outbox outbox(store, &notifier);
      for (int i = 0; i < 3; ++i) {
        REQUIRE(outbox.submit(numbered_draft(i)));
      }
      CHECK(store.unforwarded().size() == 3);
    }
    server::store::SqliteStore reopened(dir.file("c.db"));
    CHECK(reopened.size() == 3);
    CHECK(reopened.unforwarded().empty());
  }
}
