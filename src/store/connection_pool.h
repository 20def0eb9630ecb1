// A bounded pool of database connections shared by a store's threads: at most `max` open at
// once, a caller waits for one to come back, a connection that broke is dropped rather than
// reused, and a failed open frees its slot. The SQLite and PostgreSQL stores differ only in how
// a connection is opened and checked.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace dancer::store {

template <class Connection>
class ConnectionPool {
 public:
  using Open = std::function<std::unique_ptr<Connection>()>;
  using Check = std::function<bool(const Connection&)>;

  // `open` makes a new connection (and may throw); `reusable` says whether an idle connection
  // may be handed out again (checked when borrowed) and `keep` whether a returned one goes back
  // to the pool; unset, every connection is.
  ConnectionPool(int max, Open open, Check reusable = {}, Check keep = {})
      : max_(max), open_(std::move(open)), reusable_(std::move(reusable)), keep_(std::move(keep)) {}

  // A connection on loan: back to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() { pool_.give_back(std::move(connection_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<Connection> connection_;
  };

  // Adds a connection opened elsewhere (the one that migrated the schema at start-up).
  void add(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
    ++created_;
  }

  Lease borrow() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || created_ < max_; });
    while (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      if (!reusable_ || reusable_(*connection)) return Lease(*this, std::move(connection));
      --created_;  // closed here; replaced below
    }
    ++created_;
    lock.unlock();
    try {
      return Lease(*this, open_());
    } catch (...) {
      lock.lock();
      --created_;
      available_.notify_one();
      throw;
    }
  }

 private:
  void give_back(std::unique_ptr<Connection> connection) {
    {
      std::lock_guard lock(mutex_);
      if (connection && (!keep_ || keep_(*connection))) {
        idle_.push_back(std::move(connection));
      } else {
        --created_;
      }
    }
    available_.notify_one();
  }

  const int max_;
  const Open open_;
  const Check reusable_;
  const Check keep_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int created_ = 0;
};

}  // namespace dancer::store
