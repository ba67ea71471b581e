#pragma once
/// The Lambda REST API (2015-03-31 and friends): parse → validate → execute, on the io_context thread.
/// Owns the in-memory function catalogue; every change is written to the store first (on the blocking
/// pool) and only then becomes visible.

#include "lambent/auth/sigv4.hpp"
#include "lambent/http/server.hpp"
#include "lambent/logs/logs_api.hpp"
#include "lambent/model/alias.hpp"
#include "lambent/model/function.hpp"
#include "lambent/model/layer.hpp"
#include "lambent/scheduler/invocation.hpp"
#include "lambent/store/store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <filesystem>

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
    /// Delay before the second attempt of a failed asynchronous invocation (the third waits twice as long).
    /// AWS: about one minute; tests shorten it.
    std::chrono::milliseconds async_retry_delay{std::chrono::minutes(1)};
    /// Where function logs are stored (served by the CloudWatch Logs API subset on the same listener).
    std::filesystem::path logs_dir;
    int log_retention_days = 0;
    /// SigV4 verification of every request (none: the API is open). See docs/security.md.
    std::shared_ptr<const auth::verifier> auth;
    /// With `auth`, let GET /metrics through unsigned (for a Prometheus scraper).
    bool public_metrics = false;
};

class lambda_api final : public http::handler, public std::enable_shared_from_this<lambda_api> {
public:
    lambda_api(http::asio::io_context& io, http::asio::thread_pool& pool, store::store& store,
               scheduler::scheduler& sched, api_options options);

    /// Loads the catalogue from the store (call once before serving).
    void load();
    /// Loads the durable asynchronous queue and starts dispatching it (call once, after load()).
    void start_async_queue();
    /// Starts the provisioned workers recorded in the store (call once, after load()).
    void restore_provisioned();
    /// The server's own base URL (`http://HOST:PORT`), for Function URLs; set once it listens.
    void set_public_url(std::string url) { public_url_ = std::move(url); }
    /// Applies the log retention now (on the blocking pool) and then every hour; no-op without retention.
    void start_log_retention();
    void stop();

    std::size_t body_limit(const http::request_header& header) override;
    http::response too_large(const http::request_header& header, std::size_t limit) override;
    http::asio::awaitable<http::response> handle(http::request req) override;

    /// Everything the catalogue knows about one function (io thread only).
    struct function_entry {
        model::function_record latest;
        std::map<int, model::function_record> versions;
        std::map<std::string, model::alias_record> aliases;
        std::optional<int> reserved_concurrency;
        std::map<std::string, std::pair<int, std::int64_t>> provisioned;  // qualifier -> (requested, last modified ms)
        std::map<std::string, nlohmann::json> urls;  // qualifier ("" = $LATEST) -> Function URL config
        int last_version = 0;  // version numbers are never reused, even after a delete
        /// Immutable copies handed to invocations, one per record, renewed when its RevisionId changes
        /// (every change that affects a run changes it): an invoke shares one instead of copying the record.
        mutable std::shared_ptr<const model::function_record> latest_snapshot;
        mutable std::map<int, std::shared_ptr<const model::function_record>> version_snapshots;
    };
    const function_entry* find(const std::string& name) const;
    /// find(), or AWS's ResourceNotFoundException "Function not found: <ARN>" for a function that does not exist.
    result<const function_entry*> find_existing(const std::string& name) const;

    /// A qualifier resolved to the version that runs.
    struct resolved {
        const model::function_record* record = nullptr;
        std::string arn;  // the ARN as called (qualified when a qualifier was given)
        std::shared_ptr<const model::function_record> snapshot;  // of record; when resolved for invoking
    };

private:
    /// One request being handled: the message, its decoded target and the request id of the answer.
    struct call {
        http::request req;
        http::target target;
        std::string request_id;
        std::optional<auth::identity> caller;  // who signed the request (when auth is on and it was checked)

        const std::vector<std::string>& seg() const { return target.segments; }
        std::string_view method() const { return req.method_string(); }
    };
    http::asio::awaitable<http::response> dispatch(call c);
    /// With auth on: the error response for a request whose signature does not hold, none when it may pass
    /// (and then c.caller is set when a signature was checked). src/api/authenticate.cpp.
    std::optional<http::response> authenticate(call& c) const;
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
    http::asio::awaitable<http::response> publish_version(call c);
    http::response list_versions(const call& c);
    http::asio::awaitable<http::response> alias_operation(call c);
    http::response list_aliases(const call& c);
    http::asio::awaitable<http::response> concurrency_operation(call c);
    http::asio::awaitable<http::response> event_invoke_config_operation(call c);
    http::asio::awaitable<http::response> logs_operation(call c);
    http::response metrics_response(const call& c) const;
    http::response faults_operation(const call& c);  // src/api/faults_api.cpp
    http::asio::awaitable<http::response> provisioned_operation(call c);
    http::asio::awaitable<http::response> url_config_operation(call c);
    http::asio::awaitable<http::response> serve_function_url(call c);
    nlohmann::json url_wire(const std::string& function, const std::string& qualifier, bool with_modified) const;

    // Layers (src/api/layers.cpp).
    http::asio::awaitable<http::response> layer_operation(call c);
    http::asio::awaitable<http::response> publish_layer_version(call c);
    http::response get_layer_version(const call& c, const std::string& name, int version) const;
    http::response list_layers(const call& c) const;
    http::response list_layer_versions(const call& c) const;
    http::response download_layer(const call& c) const;
    /// The layer versions named by a function's `Layers`, in order; AWS's errors for missing ones.
    result<std::vector<model::function_layer>> resolve_layers(const std::vector<std::string>& arns) const;
    /// Blocking: checks that code and layers together stay within 250 MB unzipped and builds the merged /opt
    /// tree ahead of the first worker.
    static result<void> prepare_layers(store::store* st, std::uint64_t code_unzipped_bytes,
                                       const std::vector<model::function_layer>& layers);
    struct layer_entry {
        std::map<int, model::layer_version_record> versions;
        int last_version = 0;  // numbers are never reused, even after a delete
    };
    std::map<std::string, layer_entry> layers_;
    nlohmann::json provisioned_wire(const std::string& function, const std::string& qualifier) const;

    // The durable asynchronous queue (src/api/async_queue.cpp).
    http::asio::awaitable<result<void>> enqueue(store::async_event e);
    void pump();
    static http::asio::awaitable<void> run_event(std::shared_ptr<lambda_api> self, std::string id);
    static http::asio::awaitable<void> queue_destination_record(std::shared_ptr<lambda_api> self, store::async_event ev);
    void deliver_to_destination(const std::string& function, const std::string& qualifier, const std::string& condition,
                                const store::async_event& e, const scheduler::invoke_result* res);
    nlohmann::json event_invoke_config(const std::string& function, const std::string& qualifier) const;

    /// Resolves `qualifier` ($LATEST, a version number, an alias; none = $LATEST) for reading or invoking.
    /// Invoking picks a version by the alias's routing weights.
    result<resolved> resolve(const function_entry& e, const std::optional<std::string>& qualifier, bool invoking) const;
    result<resolved> resolve_record(const function_entry& e, const std::optional<std::string>& qualifier,
                                    bool invoking) const;
    /// Publishes $LATEST as a new version (or returns the last one when nothing changed since).
    http::asio::awaitable<result<model::function_record>> publish(std::string name, std::string description);
    int unreserved_concurrency() const;

    /// Persists `next` (compare-and-swap on `expected_revision`) and publishes it to the catalogue.
    http::asio::awaitable<result<model::function_record>> commit(model::function_record next, std::string expected_revision);

    http::asio::io_context& io_;
    http::asio::thread_pool& pool_;
    store::store& store_;
    scheduler::scheduler& scheduler_;
    api_options options_;
    std::map<std::string, function_entry> functions_;
    std::set<std::string> busy_;  // functions with a create/update/delete in flight
    std::map<std::string, store::async_event> queue_;     // accepted Event invocations not finished yet
    std::set<std::string> in_flight_;                     // queue_ ids being attempted now
    std::map<std::pair<std::string, std::string>, nlohmann::json> invoke_configs_;  // (function, qualifier)
    http::asio::steady_timer queue_timer_;
    http::asio::steady_timer retention_timer_;
    std::shared_ptr<const logs::logs_api> logs_;
    std::string public_url_ = "http://127.0.0.1:9400";
    std::map<std::string, std::pair<std::string, std::string>> url_ids_;  // url id -> (function, qualifier)
    bool stopped_ = false;
};

}  // namespace lambent::api
