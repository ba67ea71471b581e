#pragma once
// Internal to src/sam: the state of a running template, shared by stack.cpp (deploy, schedules, S3
// notifications, watch) and api_gateway.cpp (Api/HttpApi routes).

#include "lambent/api/lambda_api.hpp"
#include "lambent/sam/stack.hpp"
#include "lambent/scheduler/scheduler.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lambent::sam {

namespace asio = boost::asio;
namespace bhttp = http::bhttp;

/// One Api/HttpApi route of the template.
struct route {
    std::string method;                 // upper case, ANY for any
    std::string path;                   // the template's path, e.g. /items/{id} or /{proxy+}; "$default"
    std::vector<std::string> segments;  // of `path`
    bool v2 = false;                    // HttpApi: payload 2.0
    std::string function;               // deployed name
    std::string qualifier;              // the AutoPublishAlias, or "" for $LATEST
    std::string stage;                  // requestContext.stage
};


class stack_impl : public std::enable_shared_from_this<stack_impl> {
public:
    stack_impl(asio::io_context& io_, asio::thread_pool& pool_, std::shared_ptr<api::lambda_api> api_,
               scheduler::scheduler& sched_, template_model model_, stack_options options_)
        : io(io_), pool(pool_), api(std::move(api_)), sched(sched_), model(std::move(model_)),
          options(std::move(options_)), inotify(io_) {}

    /// One request to the Lambda API, in process (the REST API's own handlers).
    asio::awaitable<http::response> call(bhttp::verb method, std::string target, std::string body,
                                         std::string invocation_type = {});

    asio::awaitable<result<void>> deploy_all();
    /// Creates or updates one function; returns what happened ("created", "updated", "unchanged").
    asio::awaitable<result<std::string>> deploy_function(const function_spec& f);
    /// Publishes a template layer (unless its newest version already has the same content, description and
    /// runtimes) and returns its version ARN.
    asio::awaitable<result<std::string>> deploy_layer(const layer_spec& layer);
    /// An asynchronous (Event) invoke of a template function through the durable queue; the request id.
    asio::awaitable<result<std::string>> invoke_async(std::string function, std::string qualifier, std::string payload);

    // Schedules
    void start_schedules();
    static asio::awaitable<void> run_schedule(std::shared_ptr<stack_impl> self, std::string function,
                                              std::string qualifier, event_source ev);

    // S3 notifications
    asio::awaitable<http::response> s3_notification(http::request req, std::string function);

    // Watch
    result<void> start_watch();
    void add_watch_tree(const std::filesystem::path& dir, std::size_t function_index, const std::string& only = {});
    static asio::awaitable<void> read_inotify(std::shared_ptr<stack_impl> self);
    void changed(std::size_t function_index);
    static asio::awaitable<void> reload(std::shared_ptr<stack_impl> self, std::size_t function_index);

    // Api/HttpApi routes (api_gateway.cpp)
    void build_routes();
    asio::awaitable<http::response> serve_route(http::request req);

    asio::io_context& io;
    asio::thread_pool& pool;
    std::shared_ptr<api::lambda_api> api;
    scheduler::scheduler& sched;
    template_model model;
    stack_options options;
    std::map<std::string, std::string> layer_arns;  // layer logical id -> version ARN
    std::vector<route> routes;
    std::vector<std::shared_ptr<asio::steady_timer>> schedule_timers;
    asio::posix::stream_descriptor inotify;
    std::map<int, std::vector<std::pair<std::size_t, std::string>>> watches;  // wd -> (function index, file name filter)
    std::map<int, std::filesystem::path> watch_paths;  // wd -> folder
    std::map<std::size_t, std::shared_ptr<asio::steady_timer>> debounce;
    std::map<std::size_t, bool> reloading, reload_again;
    std::string api_id = "lambentapi";
    bool stopped = false;
};

}  // namespace lambent::sam
