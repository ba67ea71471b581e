#pragma once
/// A SAM template running inside `lambent serve --template`: its functions deployed through the Lambda API
/// (the same handlers the REST API uses), its Schedule events fired, its Api/HttpApi routes served on their
/// own listener, S3 notifications accepted under /_lambent/s3-events, and (--watch) its code folders
/// reloaded on change.

#include "lambent/http/server.hpp"
#include "lambent/model/function.hpp"
#include "lambent/sam/template.hpp"

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lambent::api {
class lambda_api;
}
namespace lambent::scheduler {
class scheduler;
}

namespace lambent::sam {

struct stack_options {
    std::filesystem::path template_file;
    std::vector<std::string> parameter_overrides;  // K=V
    std::string stack_name = "lambent";
    model::account_context account;
    std::filesystem::path work_dir;     // scratch space (inline code packages)
    double schedule_clock_rate = 1.0;   // >1 runs schedules faster than the wall clock (tests)
    bool watch = false;
};

class stack_impl;
class stack;

/// Reads `options.template_file` and deploys it, running `io` until that is done (call it before the
/// listeners open and before io.run()). Errors name the template, the resource and the reason.
[[nodiscard]] result<std::unique_ptr<stack>> deploy_template(http::asio::io_context& io, http::asio::thread_pool& pool,
                                                             std::shared_ptr<api::lambda_api> api,
                                                             scheduler::scheduler& sched, stack_options options);

class stack {
public:
    stack(http::asio::io_context& io, http::asio::thread_pool& pool, std::shared_ptr<api::lambda_api> api,
          scheduler::scheduler& sched, template_model model, stack_options options);
    ~stack();

    /// Creates or updates every function of the template (unchanged ones are left alone: no new version,
    /// no new RevisionId). Prints one line per function and lists what is not deployed.
    http::asio::awaitable<result<void>> deploy();
    /// Whether the template has Api/HttpApi routes (then serve api_handler() on a listener of its own).
    bool has_routes() const;
    /// The handler serving the template's Api/HttpApi routes.
    std::shared_ptr<http::handler> api_handler();
    /// The main listener's handler: /_lambent/s3-events here, everything else to `inner`.
    std::shared_ptr<http::handler> front_handler(std::shared_ptr<http::handler> inner);
    /// Starts the Schedule timers and, with --watch, the code watcher.
    result<void> start();
    void stop();

private:
    std::shared_ptr<stack_impl> impl_;
};

}  // namespace lambent::sam
