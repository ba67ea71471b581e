#pragma once
/// Running blocking work (fsync, unzip, SQLite) on a thread pool from a coroutine on the event loop,
/// resuming the coroutine back on its own executor with the result.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace lambent {

/// Runs `fn()` on `pool` and returns its result to the awaiting coroutine on that coroutine's executor.
/// `fn` must own everything it touches (it runs on another thread).
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn>> run_blocking(boost::asio::thread_pool& pool, Fn fn) {
    namespace asio = boost::asio;
    using value_type = std::invoke_result_t<Fn>;
    auto initiation = [&pool](auto handler, Fn work) {
        asio::post(pool, [work = std::move(work), handler = std::move(handler)]() mutable {
            value_type value = work();
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [handler = std::move(handler), value = std::move(value)]() mutable {
                std::move(handler)(std::move(value));
            });
        });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(value_type)>(
        std::move(initiation), asio::use_awaitable, std::move(fn));
}

}  // namespace lambent
