#pragma once
/// What the API hands the scheduler for one invocation, and what it gets back.

#include "lambent/common/error.hpp"
#include "lambent/model/function.hpp"

#include <chrono>
#include <optional>
#include <memory>
#include <string>

namespace lambent::scheduler {

struct invoke_request {
    std::shared_ptr<const model::function_record> function;  // snapshot of the version being invoked
    std::string invoked_arn;          // as called (unqualified for plain $LATEST calls)
    std::string payload;
    std::string request_id;
    std::string client_context;       // decoded JSON, empty when absent
    std::string cognito_identity;     // JSON, empty when absent
    std::string trace_id;
    bool want_log_tail = false;
    bool asynchronous = false;        // Event invocation: counts against concurrency, nobody waits
};

struct invoke_result {
    /// Set when the invocation could not run at all (throttled, server error): the API answers with it.
    std::optional<error> failure;
    std::string body;
    std::string content_type = "application/json";
    /// "Unhandled" for function and platform errors (HTTP 200 with X-Amz-Function-Error).
    std::optional<std::string> function_error;
    std::string log_tail;  // the invocation's log text (START…REPORT), for X-Amz-Log-Result
    std::string executed_version = "$LATEST";
};

}  // namespace lambent::scheduler
