#pragma once
/// The Lambda REST API (2015-03-31 and friends): parse → validate → execute, on the io_context thread.
/// Owns the in-memory function catalogue; every change is written to the store first (on the blocking
/// pool) and only then becomes visible.

#include "lambent/http/server.hpp"
#include "lambent/model/function.hpp"
#include "lambent/scheduler/invocation.hpp"

#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace lambent::store {
class store;
}
namespace lambent::scheduler {
class scheduler;
}

namespace lambent::api {

struct api_options {
    model::account_context account;
    int concurrency_limit = 1000;
};

class lambda_api final : public http::handler, public std::enable_shared_from_this<lambda_api> {
public:
    lambda_api(http::asio::io_context& io, http::asio::thread_pool& pool, store::store& store,
               scheduler::scheduler& sched, api_options options);

    /// Loads the catalogue from the store (call once before serving).
    void load();

    std::size_t body_limit(const http::request_header& header) override;
    http::response too_large(const http::request_header& header, std::size_t limit) override;
    http::asio::awaitable<http::response> handle(http::request req) override;

    /// Current record of a function, if it exists (io thread only).
    const model::function_record* find(const std::string& name) const;

private:
    struct call;
    http::asio::awaitable<http::response> dispatch(call c);
    http::asio::awaitable<http::response> create_function(call c);
    http::asio::awaitable<http::response> update_code(call c);
    http::asio::awaitable<http::response> update_configuration(call c);
    http::asio::awaitable<http::response> delete_function(call c);
    http::asio::awaitable<http::response> tag_resource(call c, bool remove);
    http::asio::awaitable<http::response> invoke(call c, bool legacy_async);
    http::response get_function(const call& c, bool configuration_only);
    http::response list_functions(const call& c);
    http::response list_tags(const call& c);
    http::response account_settings(const call& c);
    http::response download_code(const call& c);

    /// Persists `next` (compare-and-swap on `expected_revision`) and publishes it to the catalogue.
    http::asio::awaitable<result<model::function_record>> commit(model::function_record next, std::string expected_revision);

    http::asio::io_context& io_;
    http::asio::thread_pool& pool_;
    store::store& store_;
    scheduler::scheduler& scheduler_;
    api_options options_;
    std::map<std::string, model::function_record> functions_;
    std::set<std::string> busy_;  // functions with a create/update/delete in flight
};

}  // namespace lambent::api
