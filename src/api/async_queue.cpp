// The durable asynchronous (Event) queue and the event-invoke configuration of functions.
//
// An accepted Event invocation is a row in SQLite before the 202 goes out. The dispatcher runs due events
// on the io thread; each attempt is counted in the row *before* it starts, so a crash mid-attempt uses up
// that attempt instead of running the event more often than the retry policy allows. Function errors are
// retried MaximumRetryAttempts times (default 2) after AWS's back-off (about 1 then 2 minutes, scaled by
// --async-retry-delay); events older than MaximumEventAgeInSeconds are dropped; the outcome goes to the
// configured destination (another Lambent function) as AWS's invocation record.

#include "lambent/api/errors.hpp"
#include "lambent/api/lambda_api.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"
#include "lambent/scheduler/scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace asio = http::asio;
namespace bhttp = http::bhttp;

namespace {

constexpr int default_retries = 2;
constexpr int default_max_age_s = 21600;

std::int64_t now_ms() { return codec::now_ms().time_since_epoch().count(); }

void log_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("async: event failed: {}", ex.what());
    }
}

}  // namespace

asio::awaitable<void> lambda_api::queue_destination_record(std::shared_ptr<lambda_api> self, store::async_event ev) {
    auto queued = co_await self->enqueue(std::move(ev));
    if (!queued) spdlog::error("async: cannot queue a destination record: {}", queued.error().message);
}

void lambda_api::start_async_queue() {
    for (auto& e : store_.load_events()) {
        const std::string id = e.id;
        queue_.emplace(id, std::move(e));
    }
    if (!queue_.empty()) spdlog::info("async: {} queued events resumed", queue_.size());
    pump();
}

void lambda_api::stop() {
    stopped_ = true;
    queue_timer_.cancel();
    retention_timer_.cancel();
}

asio::awaitable<result<void>> lambda_api::enqueue(store::async_event e) {
    store::store* st = &store_;
    auto work = [st, e]() { return st->put_event(e); };
    auto saved = co_await run_blocking(pool_, std::move(work));
    if (saved) {
        queue_[e.id] = std::move(e);
        pump();
    }
    co_return saved;
}

void lambda_api::pump() {
    if (stopped_) return;
    const auto now = now_ms();
    std::int64_t next_due = -1;
    for (auto& [id, e] : queue_) {
        if (in_flight_.count(id) != 0) continue;
        if (e.next_attempt_ms <= now) {
            // The scheduler makes asynchronous invocations wait for a free concurrency slot of their function;
            // keep the number of waiting dispatches bounded by the account limit.
            if (static_cast<int>(in_flight_.size()) >= options_.concurrency_limit) break;
            in_flight_.insert(id);
            asio::co_spawn(io_, run_event(shared_from_this(), id), log_failure);
        } else if (next_due < 0 || e.next_attempt_ms < next_due) {
            next_due = e.next_attempt_ms;
        }
    }
    if (next_due >= 0) {
        queue_timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(1, next_due - now)));
        queue_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->pump();
        });
    }
}

json lambda_api::event_invoke_config(const std::string& function, const std::string& qualifier) const {
    auto it = invoke_configs_.find({function, qualifier.empty() ? "$LATEST" : qualifier});
    return it == invoke_configs_.end() ? json::object() : it->second;
}

asio::awaitable<void> lambda_api::run_event(std::shared_ptr<lambda_api> self, std::string id) {
    auto it = self->queue_.find(id);
    if (it == self->queue_.end()) {
        self->in_flight_.erase(id);
        co_return;
    }
    store::async_event e = it->second;
    store::store* st = &self->store_;
    const auto* entry = self->find(e.function);
    std::optional<std::string> qualifier;
    if (!e.qualifier.empty()) qualifier = e.qualifier;
    auto target = entry == nullptr ? result<resolved>(make_error(errc::resource_not_found, "gone"))
                                   : self->resolve(*entry, qualifier, true);
    const json config = self->event_invoke_config(e.function, e.qualifier);
    const int max_retries = config.value("MaximumRetryAttempts", default_retries);
    const int max_age_s = config.value("MaximumEventAgeInSeconds", default_max_age_s);

    std::string condition;  // set when the event is finished: Success, RetriesExhausted, EventAgeExceeded
    std::optional<scheduler::invoke_result> outcome;
    if (!target) {
        spdlog::warn("async: dropping event {}: function {} no longer exists", id, e.function);
        condition = "Dropped";
    } else if (now_ms() - e.enqueued_ms > static_cast<std::int64_t>(max_age_s) * 1000) {
        condition = "EventAgeExceeded";
    } else {
        // Count the attempt durably before running it.
        ++e.attempts;
        auto count = [st, e]() { return st->put_event(e); };
        auto counted = co_await run_blocking(self->pool_, std::move(count));
        if (!counted) {
            spdlog::error("async: cannot record an attempt of {}: {}", id, counted.error().message);
        }
        scheduler::invoke_request req;
        entry = self->find(e.function);
        if (entry == nullptr) {
            condition = "Dropped";
        } else {
            auto again = self->resolve(*entry, qualifier, true);
            if (!again) {
                condition = "Dropped";
            } else {
                req.function = again->snapshot;
                req.invoked_arn = again->arn;
                req.payload = e.payload;
                req.request_id = e.id;  // the same request id for every attempt, as AWS
                req.trace_id = codec::xray_trace_id(e.enqueued_ms / 1000);
                req.asynchronous = true;
                auto res = co_await self->scheduler_.invoke(std::move(req));
                if (self->stopped_) {
                    // A graceful shutdown interrupted the attempt: it does not count; run it again at the next start.
                    --e.attempts;
                    e.next_attempt_ms = now_ms();
                    auto restore = [st, e]() { return st->put_event(e); };
                    auto restored = co_await run_blocking(self->pool_, std::move(restore));
                    if (!restored) spdlog::error("async: cannot restore event {}: {}", id, restored.error().message);
                    self->in_flight_.erase(id);
                    co_return;
                }
                if (res.failure) {
                    // Throttles and platform errors do not use up an attempt: back off and try again.
                    --e.attempts;
                    e.next_attempt_ms = now_ms() + std::min<std::int64_t>(300000, 1000LL << std::min(e.attempts, 8));
                } else if (res.function_error) {
                    if (e.attempts <= max_retries) {
                        e.next_attempt_ms = now_ms() + self->options_.async_retry_delay.count() * e.attempts;
                    } else {
                        condition = "RetriesExhausted";
                    }
                    outcome = std::move(res);
                } else {
                    condition = "Success";
                    outcome = std::move(res);
                }
            }
        }
    }

    if (!condition.empty()) {
        if (condition != "Dropped") {
            self->deliver_to_destination(e.function, e.qualifier, condition, e, outcome ? &*outcome : nullptr);
        }
        auto remove = [st, id]() { return st->remove_event(id); };
        auto removed = co_await run_blocking(self->pool_, std::move(remove));
        if (!removed) spdlog::error("async: cannot remove event {}: {}", id, removed.error().message);
        self->queue_.erase(id);
        spdlog::debug("async: event {} finished condition={} attempts={}", id, condition, e.attempts);
    } else {
        auto save = [st, e]() { return st->put_event(e); };
        auto saved = co_await run_blocking(self->pool_, std::move(save));
        if (!saved) spdlog::error("async: cannot reschedule event {}: {}", id, saved.error().message);
        if (auto q = self->queue_.find(id); q != self->queue_.end()) q->second = e;
    }
    self->in_flight_.erase(id);
    self->pump();
}

void lambda_api::deliver_to_destination(const std::string& function, const std::string& qualifier,
                                        const std::string& condition, const store::async_event& e,
                                        const scheduler::invoke_result* res) {
    const json config = event_invoke_config(function, qualifier);
    const char* which = condition == "Success" ? "OnSuccess" : "OnFailure";
    const std::string destination =
        config.contains("DestinationConfig") ? config["DestinationConfig"].value(which, json::object()).value("Destination", "")
                                             : "";
    if (destination.empty()) {
        if (condition != "Success") {
            spdlog::warn("async: event {} of {} discarded: {}", e.id, function, condition);
        }
        return;
    }
    auto ref = model::parse_function_name(destination, model::name_shape::namespaced, options_.account);
    if (!ref || find(ref->name) == nullptr) {
        spdlog::warn("async: destination {} of {} does not exist; record of {} dropped", destination, function, e.id);
        return;
    }
    json payload = json::parse(e.payload, nullptr, false);
    json record{{"version", "1.0"},
                {"timestamp", codec::iso_timestamp(codec::now_ms())},
                {"requestContext",
                 {{"requestId", e.id},
                  {"functionArn", options_.account.function_arn(function, qualifier.empty() ? "$LATEST" : qualifier)},
                  {"condition", condition},
                  {"approximateInvokeCount", e.attempts}}},
                {"requestPayload", payload.is_discarded() ? json(e.payload) : payload}};
    if (res != nullptr) {
        json context{{"statusCode", 200}, {"executedVersion", res->executed_version}};
        if (res->function_error) context["functionError"] = *res->function_error;
        record["responseContext"] = context;
        json body = json::parse(res->body, nullptr, false);
        record["responsePayload"] = body.is_discarded() ? json(res->body) : body;
    }
    store::async_event next;
    next.id = codec::uuid4();
    next.function = ref->name;
    next.qualifier = ref->qualifier.value_or("");
    next.payload = record.dump();
    next.enqueued_ms = now_ms();
    next.next_attempt_ms = next.enqueued_ms;
    asio::co_spawn(io_, queue_destination_record(shared_from_this(), std::move(next)), log_failure);
}

// ---- event-invoke configs -------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::event_invoke_config_operation(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto qualifier_param = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier_param) co_return error_response(qualifier_param.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string fn = ref->name;
    const std::string qualifier = qualifier_param->value_or("$LATEST");
    if (qualifier != "$LATEST") {
        auto target = resolve(*e, qualifier, false);
        if (!target) co_return error_response(target.error(), c.request_id);
    }
    const auto m = c.req.method();
    const std::string arn = options_.account.function_arn(fn, qualifier);
    if (c.seg().size() == 5) {  // list
        json items = json::array();
        for (const auto& [key, config] : invoke_configs_) {
            if (key.first == fn) items.push_back(config);
        }
        co_return json_response(status::ok, json{{"FunctionEventInvokeConfigs", items}}, c.request_id);
    }
    auto existing = invoke_configs_.find({fn, qualifier});
    const auto missing = [&]() {
        return error_response(make_error(errc::resource_not_found,
                                         fmt::format("The function {} doesn't have an EventInvokeConfig", arn)),
                              c.request_id);
    };
    if (m == bhttp::verb::get) {
        if (existing == invoke_configs_.end()) co_return missing();
        co_return json_response(status::ok, existing->second, c.request_id);
    }
    store::store* st = &store_;
    if (m == bhttp::verb::delete_) {
        if (existing == invoke_configs_.end()) co_return missing();
        auto drop = [st, fn, qualifier]() { return st->delete_setting(fn, "event_invoke_config", qualifier); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        invoke_configs_.erase({fn, qualifier});
        co_return empty_response(status::no_content, c.request_id);
    }
    auto body = json::parse(c.req.body().empty() ? std::string("{}") : c.req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        co_return error_response(make_error(errc::invalid_request_content, "Could not parse request body into json"),
                                 c.request_id);
    }
    const bool update = m == bhttp::verb::post;
    if (update && existing == invoke_configs_.end()) co_return missing();
    json config = update ? existing->second : json{{"FunctionArn", arn}, {"MaximumRetryAttempts", default_retries},
                                                   {"MaximumEventAgeInSeconds", default_max_age_s},
                                                   {"DestinationConfig", {{"OnSuccess", json::object()},
                                                                          {"OnFailure", json::object()}}}};
    model::violations v;
    if (auto r = body.find("MaximumRetryAttempts"); r != body.end() && !r->is_null()) {
        if (!r->is_number_integer() || r->get<int>() < 0 || r->get<int>() > 2) {
            v.add(model::violations::quote(r->dump()), "maximumRetryAttempts",
                  r->is_number_integer() && r->get<int>() < 0 ? "Member must have value greater than or equal to 0"
                                                                : "Member must have value less than or equal to 2");
        } else {
            config["MaximumRetryAttempts"] = *r;
        }
    }
    if (auto a = body.find("MaximumEventAgeInSeconds"); a != body.end() && !a->is_null()) {
        if (!a->is_number_integer() || a->get<int>() < 60 || a->get<int>() > 21600) {
            v.add(model::violations::quote(a->dump()), "maximumEventAgeInSeconds",
                  a->is_number_integer() && a->get<int>() < 60 ? "Member must have value greater than or equal to 60"
                                                                 : "Member must have value less than or equal to 21600");
        } else {
            config["MaximumEventAgeInSeconds"] = *a;
        }
    }
    if (!v.empty()) co_return error_response(v.as_error(), c.request_id);
    if (auto d = body.find("DestinationConfig"); d != body.end() && d->is_object()) {
        for (const char* which : {"OnSuccess", "OnFailure"}) {
            auto w = d->find(which);
            if (w == d->end() || !w->is_object()) continue;
            const std::string dest = w->value("Destination", "");
            if (dest.empty()) {
                config["DestinationConfig"][which] = json::object();
                continue;
            }
            if (dest.rfind("arn:aws:lambda:", 0) != 0) {
                co_return error_response(make_error(errc::invalid_parameter_value,
                                                    fmt::format("The destination {} is not supported by this Lambent "
                                                                "server yet: only Lambda function ARNs are (SQS, SNS, "
                                                                "EventBridge and S3 destinations are not).",
                                                                dest)),
                                         c.request_id);
            }
            auto target = model::parse_function_name(dest, model::name_shape::namespaced, options_.account);
            if (!target) co_return error_response(target.error(), c.request_id);
            if (target->name == fn) {
                co_return error_response(make_error(errc::invalid_parameter_value,
                                                    "You can't specify the function as a destination for itself."),
                                         c.request_id);
            }
            config["DestinationConfig"][which] = json{{"Destination", dest}};
        }
    }
    config["LastModified"] = static_cast<double>(now_ms()) / 1000.0;
    const std::string text = config.dump();
    auto save = [st, fn, qualifier, text]() { return st->put_setting({fn, "event_invoke_config", qualifier, text}); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) co_return error_response(saved.error(), c.request_id);
    invoke_configs_[{fn, qualifier}] = config;
    co_return json_response(status::ok, config, c.request_id);
}

}  // namespace lambent::api
